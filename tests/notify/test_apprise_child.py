"""The Apprise child run directly: the log:// line on stderr, masked errors on stdout,
and each URL's verdict and private form when asked to validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.message import render
from agent.notify.protocol import encode_send, encode_validate

REPO = Path(__file__).resolve().parents[2]


def run_child(request: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "agent.notify.apprise_child"], input=request,
                          capture_output=True, timeout=60, cwd=REPO, check=False)


def test_log_target_writes_one_line_and_bad_urls_fail_masked() -> None:
    event = AlertEvent(EventKind.FIRING, AlertKey("web1", "disk", "used_percent"),
                       Status.CRITICAL, 1_700_000_000.0, "inc-7", "used_percent 93.2 > 90",
                       value=93.2, threshold="> 90", since=1_699_999_000.0)
    message = render(event)
    proc = run_child(encode_send(["log://", "tgram://bottoken/chatid"], [message]))
    assert proc.returncode == 0, proc.stderr
    stderr = proc.stderr.decode()
    notify_lines = [ln for ln in stderr.splitlines() if ln.startswith("NOTIFY ")]
    assert notify_lines == [
        "NOTIFY [critical] CRITICAL web1 disk: used_percent 93.2 > 90 | Severity: CRITICAL | "
        "Host: web1 | Check: disk | Metric: used_percent | Value: 93.2% (threshold > 90) | "
        "Reason: used_percent 93.2 > 90 | Since: 2023-11-14T21:56:40Z (16m ago) | "
        "key: inc-7:firing:1700000000 | incident: inc-7"]
    # Apprise's own complaints quote the URL: they must not reach the log unmasked.
    assert "bottoken" not in stderr
    *answers, done = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert answers[0] == {"id": 0, "message": 0, "target": 0, "ok": True, "error": None,
                          "permanent": False}
    assert done == {"id": 0, "done": True, "error": None}
    assert answers[1]["ok"] is False and answers[1]["permanent"] is True
    assert "bottoken" not in answers[1]["error"] and "chatid" not in answers[1]["error"]
    assert "tgram://****/****" in answers[1]["error"]


def test_bad_request_exits_2_with_a_message() -> None:
    proc = run_child(b"not json")
    assert proc.returncode == 2
    assert b"bad request: request is not JSON" in proc.stderr
    assert proc.stdout == b""


def test_requests_in_one_input_are_each_answered_under_their_id() -> None:
    message = render(AlertEvent(EventKind.FIRING, AlertKey("web1", "disk", "used_percent"),
                                Status.CRITICAL, 1_700_000_000.0, "inc-7", "full"))
    request = b"\n".join([encode_send(["log://"], [message], request_id=7),
                          b"not json",
                          encode_validate(["log://", "slack://bad"], request_id=8)])
    proc = run_child(request + b"\n")
    assert proc.returncode == 2  # one line could not be read: said, and the rest answered
    answers = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    by_id: dict[int, list[dict[str, object]]] = {}
    for a in answers:
        by_id.setdefault(int(a["id"]), []).append(a)
    assert sorted(by_id) == [7, 8]
    assert by_id[7][-1] == {"id": 7, "done": True, "error": None}
    assert by_id[7][0]["ok"] is True
    assert [a.get("index") for a in by_id[8][:-1]] == [0, 1]
    assert by_id[8][-1]["done"] is True
    assert b"bad request: request is not JSON" in proc.stderr


def test_the_child_exits_when_idle_with_nothing_in_flight() -> None:
    child = subprocess.Popen([sys.executable, "-m", "agent.notify.apprise_child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
                             env={**os.environ, "WATCHKEEPER_SENDER_IDLE": "0.3"})
    try:
        assert child.wait(30) == 0  # its input is still open: it left on its own
    finally:
        child.kill()
        child.wait()
        assert child.stdin is not None and child.stdout is not None
        child.stdin.close()
        child.stdout.close()


def _validate(urls: list[str]) -> list[dict[str, object]]:
    proc = run_child(encode_validate(urls))
    assert proc.returncode == 0, proc.stderr
    *answers, done = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert done["done"] is True
    assert [a["index"] for a in answers] == list(range(len(urls)))
    return answers


@pytest.mark.parametrize(("url", "error", "shown"), [
    # Accepted: what the plugin's url(privacy=True) hides, no more.
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops", False,
     "slack://****/****/****/#ops"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", False,
     "tgram://****/-100123"),
    ("ntfy://ntfy.sh/alerts", False, "ntfy://ntfy.sh/alerts"),
    ("json://127.0.0.1:8080/hook?token=Tok3nValue", False,
     "json://127.0.0.1:8080/hook?token=****"),
    # Refused: the private tokens of the scheme's template; scheme, host and port shown.
    ("json://user:Hunter2Pass@127.0.0.1:8080/hook?method=BREW", True,
     "json://user:****@127.0.0.1:8080/hook?method=BREW"),
    ("pagerduty://OnlyOneRoutingKey", True, "pagerduty://****"),
    ("nosuchservice://user:Hunter2Pass@relay.example.com:2525/", True,
     "nosuchservice://user:****@relay.example.com:2525/"),
])
def test_validation_answers_whether_apprise_accepts_and_how_to_show_it(
        url: str, error: bool, shown: str) -> None:
    [answer] = _validate([url])
    assert (answer["error"] is not None) is error, answer
    assert answer["shown"] == shown
    secrets = answer["secrets"]
    assert isinstance(secrets, list)
    for secret in secrets:
        assert secret not in shown
    assert "Hunter2Pass" not in str(answer["error"])


def test_all_urls_are_judged_in_one_child_each_once() -> None:
    urls = ["log://", "tgram://bottoken/chatid", "slack://bad", "log://"]
    answers = _validate(urls)
    assert [a["error"] is None for a in answers] == [True, False, False, True]
    assert "bottoken" not in json.dumps(answers[1])


@pytest.mark.parametrize(("plain", "private", "parts"), [
    ("slack://T1/B2/%23ops/?image=yes", "slack://T...1/B...2/%23ops/?image=yes",
     ["T1", "B2"]),
    ("tgram://12%3AAbC/-100/?mdv=v1", "tgram://1...C/-100/?mdv=v1",
     ["12:AbC", "12", "AbC"]),
    ("json://u:pw@h:80/x?m=POST", "json://u:****@h:80/x?m=POST", ["pw"]),
    ("ntfy://ntfy.sh/alerts?mode=private", "ntfy://ntfy.sh/alerts?mode=private", []),
])
def test_private_parts_are_what_the_private_form_hides(plain: str, private: str,
                                                       parts: list[str]) -> None:
    with warnings.catch_warnings():
        # Apprise imports modules deprecated in newer Pythons; not what is tested here.
        warnings.simplefilter("ignore", DeprecationWarning)
        from agent.notify.apprise_child import private_parts

    assert private_parts(plain, private) == parts
