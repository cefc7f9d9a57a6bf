"""The agent/child wire format: strict requests, forgiving answer parsing."""

from __future__ import annotations

import pytest

from agent.model import Status
from agent.notify.masking import UrlForm
from agent.notify.message import Message
from agent.notify.protocol import (
    Mode,
    SendResult,
    UrlVerdict,
    WireMessage,
    decode_request,
    decode_send_line,
    decode_validate_line,
    encode_send,
    encode_validate,
    send_line,
    validate_line,
)


def test_send_request_round_trips() -> None:
    msg = Message("T", "b\nc", Status.CRITICAL)
    req = decode_request(encode_send(["log://", "json://h/x"], [msg]))
    assert req.mode is Mode.SEND
    assert req.targets == ("log://", "json://h/x")
    assert req.messages == (WireMessage("T", "b\nc", "critical", "failure"),)


def test_a_message_travels_with_its_table_and_threading() -> None:
    msg = Message("T", "b", Status.WARNING, facts=(("Where", "db1:5432"), ("Incident", "i-1")),
                  incident="i-1", ref="i-1:2", alerts=1)
    [wire] = decode_request(encode_send(["log://"], [msg])).messages
    assert wire == WireMessage("T", "b", "warning", "warning", (("Where", "db1:5432"),
                               ("Incident", "i-1")), "i-1", "i-1:2", 1)


def test_validate_request_round_trips() -> None:
    req = decode_request(encode_validate(["a://b"]))
    assert (req.mode, req.targets, req.messages) == (Mode.VALIDATE, ("a://b",), ())


@pytest.mark.parametrize(("data", "why"), [
    (b"", "not JSON"),
    (b"[1]", "not a JSON object"),
    (b'{"mode": "explode", "targets": []}', "unknown mode"),
    (b'{"mode": "send", "targets": "log://"}', "targets must be a list"),
    (b'{"mode": "send", "targets": [], "messages": [{"title": 1}]}', "message 0"),
    (b'{"mode": "send", "targets": [], "messages": [{"title": "t", "body": "b", "label": "x",'
     b' "notify_type": "info", "facts": [["only a label"]]}]}', "facts must be a list"),
    (b'{"mode": "send", "targets": [], "messages": [{"title": "t", "body": "b", "label": "x",'
     b' "notify_type": "info", "alerts": -1}]}', "alerts a count"),
    (b"\xff\xfe", "not JSON"),
])
def test_bad_requests_say_what_is_wrong(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode_request(data)


def test_answer_lines_round_trip() -> None:
    result = SendResult(False, "refused", permanent=True)
    assert decode_send_line(send_line(2, 1, result)) == (2, 1, result)
    good = UrlVerdict(None, UrlForm("json://h.example.com/?token=****", ("Tk1",)))
    bad = UrlVerdict("refused", UrlForm("x://****"))
    assert decode_validate_line(validate_line(3, good)) == (3, good)
    assert decode_validate_line(validate_line(0, bad)) == (0, bad)


@pytest.mark.parametrize("line", [
    b"garbage", b"[]", b'{"message": -1, "target": 0, "ok": true}',
    b'{"message": 0, "target": 0, "ok": "yes"}', b'{"message": true, "target": 0, "ok": true}',
    b'{"message": 0, "target": 0, "ok": false, "error": 5}',
])
def test_unreadable_send_lines_are_none(line: bytes) -> None:
    assert decode_send_line(line) is None


@pytest.mark.parametrize("line", [
    b"{}", b'{"index": "0"}', b'{"index": 0, "error": 1}', b"x",
    b'{"index": 0, "error": null, "shown": "log://"}',
    b'{"index": 0, "error": null, "shown": 5, "secrets": []}',
    b'{"index": 0, "error": null, "shown": "log://", "secrets": [1]}',
])
def test_unreadable_validate_lines_are_none(line: bytes) -> None:
    assert decode_validate_line(line) is None
