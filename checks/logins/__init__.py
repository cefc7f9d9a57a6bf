"""The ``logins`` check kind: SSH logins and failed attempts, from the journal or an auth log."""

from checks.logins.check import LoginsCheck

__all__ = ["LoginsCheck"]
