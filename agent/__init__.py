"""Watchkeeper: a small monitoring and alerting agent."""

import sys

__version__ = "0.1.0"

# httpx imports its optional command-line client (click, pygments) whenever those happen
# to be installed; the agent never uses it, and that import costs about 2 MB of RSS on a
# server. A None entry makes httpx fall back to its stub without importing them.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
