"""What the agent and the Apprise child process say to each other (JSON, no Apprise here).

Requests travel on the child's stdin, one JSON object per line (URLs carry secrets; argv is
visible in ``ps``), each with an ``id`` of the agent's choosing: the child stays up for
more requests and answers several at once. It answers one JSON object per line on stdout,
each carrying its request's ``id``, as soon as each result is known (so the results of a
child that later hangs or dies are not lost), and ends each request with a ``done`` line.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.notify.masking import UrlForm
from agent.notify.message import Message


class Mode(enum.Enum):
    """What the child is asked to do."""

    SEND = "send"
    VALIDATE = "validate"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of sending one message to one target. ``error`` is already masked."""

    ok: bool
    error: str | None = None
    #: True when trying again cannot help (the URL is invalid, the service is disabled).
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    """Apprise's word on one URL: why it cannot be used (None: it can), and its form
    (how to show it, which parts the log scrubber hides). ``error`` is already masked."""

    error: str | None
    form: UrlForm


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A message as the child needs it."""

    title: str
    body: str
    label: str
    notify_type: str
    #: What the child renders richer forms from (``agent.notify.formats``).
    facts: tuple[tuple[str, str], ...] = ()
    incident: str = ""
    ref: str = ""
    alerts: int = 1

    @classmethod
    def of(cls, message: Message) -> WireMessage:
        return cls(message.title, message.body, message.label, message.notify_type,
                   message.facts, message.incident, message.ref, message.alerts)


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request: send every message to every target, or validate ``targets``."""

    mode: Mode
    targets: tuple[str, ...]
    messages: tuple[WireMessage, ...] = ()
    #: Apprise's persistent store (plugins such as Opsgenie remember the alerts they
    #: opened there, to close them later); None keeps it in memory only.
    storage: str | None = None
    #: What the answers to this request carry, so that several can be in flight at once.
    id: int = 0


def encode_send(targets: Sequence[str], messages: Sequence[Message],
                storage: str | None = None, request_id: int = 0) -> bytes:
    """The request (one line, without its newline) to send each message to each target."""
    return json.dumps({
        "id": request_id,
        "mode": Mode.SEND.value,
        "targets": list(targets),
        "messages": [_wire_dict(WireMessage.of(m)) for m in messages],
        "storage": storage,
    }).encode()


def encode_validate(urls: Sequence[str], request_id: int = 0) -> bytes:
    """The request (one line, without its newline) to check each URL."""
    return json.dumps({"id": request_id, "mode": Mode.VALIDATE.value,
                       "targets": list(urls)}).encode()


def _wire_dict(m: WireMessage) -> dict[str, Any]:
    return {"title": m.title, "body": m.body, "label": m.label, "notify_type": m.notify_type,
            "facts": [list(f) for f in m.facts], "incident": m.incident, "ref": m.ref,
            "alerts": m.alerts}


def _wire_message(i: int, m: Any) -> WireMessage:
    """One message of a request (its rich parts optional: an older agent sends none)."""
    if not isinstance(m, dict) or not all(
            isinstance(m.get(k), str) for k in ("title", "body", "label", "notify_type")):
        raise ValueError(f"message {i} must have text title, body, label, notify_type")
    facts = m.get("facts") or []
    if not isinstance(facts, list) or not all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f)
            for f in facts):
        raise ValueError(f"message {i}: facts must be a list of [label, value] texts")
    incident, ref, alerts = m.get("incident") or "", m.get("ref") or "", m.get("alerts", 1)
    if not isinstance(incident, str) or not isinstance(ref, str) or not _index(alerts):
        raise ValueError(f"message {i}: incident and ref must be texts, alerts a count")
    return WireMessage(m["title"], m["body"], m["label"], m["notify_type"],
                       tuple((a, b) for a, b in facts), incident, ref, alerts)


def decode_request(data: bytes) -> Request:
    """Parse a request; raises ValueError saying what is wrong."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"request is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("request is not a JSON object")
    try:
        mode = Mode(raw.get("mode"))
    except ValueError:
        raise ValueError(f"unknown mode {raw.get('mode')!r}") from None
    targets = raw.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ValueError("targets must be a list of strings")
    messages: list[WireMessage] = []
    for i, m in enumerate(raw.get("messages") or []):
        messages.append(_wire_message(i, m))
    storage = raw.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise ValueError("storage must be a path")
    request_id = raw.get("id", 0)
    if not _index(request_id):
        raise ValueError("id must be a whole number >= 0")
    return Request(mode, tuple(targets), tuple(messages), storage, request_id)


def request_id_of(data: bytes) -> int | None:
    """The ``id`` of a request line, if it can be read at all (to end a bad request)."""
    d = _object(data)
    rid = None if d is None else d.get("id")
    return rid if _index(rid) else None


def send_line(message: int, target: int, result: SendResult, request_id: int = 0) -> str:
    """One answer line of send mode."""
    return json.dumps({"id": request_id, "message": message, "target": target,
                       "ok": result.ok, "error": result.error, "permanent": result.permanent})


def validate_line(index: int, verdict: UrlVerdict, request_id: int = 0) -> str:
    """One answer line of validate mode (``error`` None means the URL is valid)."""
    return json.dumps({"id": request_id, "index": index, "error": verdict.error,
                       "shown": verdict.form.shown, "secrets": list(verdict.form.secrets)})


def done_line(request_id: int, error: str | None = None) -> str:
    """The last line of a request's answers; ``error`` says why some may be missing."""
    return json.dumps({"id": request_id, "done": True, "error": error})


@dataclass(frozen=True, slots=True)
class Answer:
    """One readable answer line: its request, whether it ends it, and what it says."""

    request_id: int
    done: bool
    fields: dict[str, Any]

    @property
    def error(self) -> str | None:
        """Why a ``done`` request may lack answers (None: it does not, or says nothing)."""
        err = self.fields.get("error")
        return err if isinstance(err, str) else None


def decode_answer(line: bytes | str) -> Answer | None:
    """The request an answer line belongs to; None when the line is unreadable."""
    d = _object(line)
    if d is None or not _index(d.get("id")):
        return None
    return Answer(d["id"], d.get("done") is True, d)


def decode_send_line(line: bytes | str | dict[str, Any]) -> tuple[int, int, SendResult] | None:
    """``(message, target, result)`` from an answer line; None for anything unreadable."""
    d = line if isinstance(line, dict) else _object(line)
    if d is None:
        return None
    m, t, ok, err, perm = (d.get("message"), d.get("target"), d.get("ok"), d.get("error"),
                           d.get("permanent", False))
    if not (isinstance(m, int) and isinstance(t, int) and _index(m) and _index(t)
            and isinstance(ok, bool) and isinstance(perm, bool)
            and (err is None or isinstance(err, str))):
        return None
    return m, t, SendResult(ok, err, perm)


def decode_validate_line(line: bytes | str | dict[str, Any]
                         ) -> tuple[int, UrlVerdict] | None:
    """``(index, verdict)`` from an answer line; None for anything unreadable."""
    d = line if isinstance(line, dict) else _object(line)
    if d is None:
        return None
    index, err, shown, secrets = d.get("index"), d.get("error"), d.get("shown"), \
        d.get("secrets")
    if not isinstance(index, int) or not _index(index):
        return None
    if not (err is None or isinstance(err, str)) or not isinstance(shown, str):
        return None
    if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
        return None
    return index, UrlVerdict(err, UrlForm(shown, tuple(secrets)))


def _object(line: bytes | str) -> dict[str, Any] | None:
    try:
        d = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return d if isinstance(d, dict) else None


def _index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
