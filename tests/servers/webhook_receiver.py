"""A webhook receiver that holds every body to the ``watchkeeper.alert/v1`` JSON Schema
(with the ``jsonschema`` library) and, given the shared secret, checks its signature as a
receiver would: anything that fails is answered 400 and kept in ``invalid``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.servers.http_server import Reply, Request
from tests.servers.receiver import OK, Receiver


def validator() -> Any:
    """A validator of v1 documents (skips the test where jsonschema is not installed)."""
    jsonschema = pytest.importorskip("jsonschema")
    from agent.notify.payload import schema

    found = schema()
    jsonschema.Draft202012Validator.check_schema(found)
    return jsonschema.Draft202012Validator(found,
                                           format_checker=jsonschema.FormatChecker())


def schema_problems(doc: Any) -> list[str]:
    """What is wrong with ``doc`` by the v1 schema (empty: nothing)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator().iter_errors(doc)]


def signature_problem(request: Request, secret: str, now: float | None = None) -> str | None:
    """Why ``request`` is not signed with ``secret`` (None: it is)."""
    stamp = request.headers.get("x-watchkeeper-timestamp", "")
    given = request.headers.get("x-watchkeeper-signature", "")
    if not stamp.isdigit():
        return f"no timestamp header (got {stamp!r})"
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + request.body, hashlib.sha256)
    if not hmac.compare_digest(given, "sha256=" + mac.hexdigest()):
        return f"bad signature {given!r}"
    if now is not None and abs(now - int(stamp)) > 300:
        return f"timestamp {stamp} is not within 5 minutes of {now:.0f}"
    return None


class SchemaReceiver(Receiver):
    """A ``Receiver`` whose default answer validates the body first (see module doc)."""

    def __init__(self, secret: str | None = None, port: int = 0) -> None:
        self._validator = validator()
        super().__init__(port=port, default=self._judge)
        self.secret = secret
        #: (what was wrong, the body) of every request refused.
        self.invalid: list[tuple[str, bytes]] = []

    def __enter__(self) -> SchemaReceiver:
        self.start()
        return self

    def _judge(self, request: Request) -> Reply:
        try:
            doc = json.loads(request.body)
        except ValueError as exc:
            return self._refuse(f"not JSON: {exc}", request)
        errors = [e.message for e in self._validator.iter_errors(doc)]
        if errors:
            return self._refuse("; ".join(errors), request)
        if request.headers.get("content-type") != "application/json":
            return self._refuse(f"content type {request.headers.get('content-type')!r}",
                                request)
        if self.secret is not None:
            problem = signature_problem(request, self.secret)
            if problem is not None:
                return self._refuse(problem, request)
        return OK

    def _refuse(self, why: str, request: Request) -> Reply:
        self.invalid.append((why, request.body))
        return Reply(400, why.encode()[:500])

    def webhook_url(self, path: str = "hook", query: str = "") -> str:
        """``webhook+http://127.0.0.1:PORT/path?query``."""
        url = self.url(path, scheme="webhook+http")
        return f"{url}?{query}" if query else url
