"""What every copy of the status page shares, served or written: its title unless one is
given, and what it may load and run."""

#: The page's title unless one is given.
DEFAULT_TITLE = "Status"
#: The page may load nothing and run nothing: only its own inline style.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
