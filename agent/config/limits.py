"""How large a config file may grow, in each direction a hostile file could stretch it.

Every bound is far above what a real config needs (a thousand checks fit in about 150 KB
and 15,000 values) and low enough that the worst file within them is read in seconds and
a few tens of MB. Each one, when passed, is a config issue naming the place.
"""

from __future__ import annotations

#: The config file itself.
MAX_CONFIG_BYTES = 1 << 20
#: Lists and mappings inside one another, counting the top mapping.
MAX_DEPTH = 64
#: Values (scalars, lists, mappings) in the document as written, and once aliases are
#: expanded.
MAX_VALUES = 100_000
#: Aliases may make the document at most this many times its written size (plus
#: ``ALIAS_ALLOWANCE`` values), so shared anchors work and a "billion laughs" does not.
ALIAS_FACTOR = 10
ALIAS_ALLOWANCE = 1_000
#: One text value or key, in characters.
MAX_TEXT_CHARS = 64 * 1024
#: An integer as YAML writes it, without sign and underscores: longer is out of range
#: without converting it (Python refuses over 4,300 digits, and slowly).
MAX_INTEGER_CHARS = 32
#: The largest integer magnitude a config value may have.
MAX_INTEGER = 2**63 - 1
#: One ``${file:...}`` secret file.
MAX_SECRET_FILE_BYTES = 64 * 1024
#: Everything ``${...}`` substitutions add to the document, in characters.
MAX_SUBSTITUTED_CHARS = 1 << 20
#: ``${A:-${B:-...}}`` inside one another.
MAX_SUBSTITUTION_DEPTH = 16
