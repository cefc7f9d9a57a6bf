"""The ``http`` check kind: a request, its answer judged, and the certificate it came with."""

from checks.http.check import HttpCheck

__all__ = ["HttpCheck"]
