"""The ``dns`` check kind: a query to one or more resolvers, its answer judged."""

from checks.dns.check import DnsCheck

__all__ = ["DnsCheck"]
