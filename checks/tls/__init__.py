"""The ``tls`` check kind, and what the checks know of certificates: reading them, the names
they are for, and the words for a certificate that fails verification."""

from checks.tls.check import TlsCheck

__all__ = ["TlsCheck"]
