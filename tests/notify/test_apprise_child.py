"""The Apprise child run directly: the log:// line on stderr, masked errors on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.message import render
from agent.notify.protocol import encode_send

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
    answers = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert answers[0] == {"message": 0, "target": 0, "ok": True, "error": None,
                          "permanent": False}
    assert answers[1]["ok"] is False and answers[1]["permanent"] is True
    assert "bottoken" not in answers[1]["error"] and "chatid" not in answers[1]["error"]
    assert "tgram://****/****" in answers[1]["error"]


def test_bad_request_exits_2_with_a_message() -> None:
    proc = run_child(b"not json")
    assert proc.returncode == 2
    assert b"bad request: request is not JSON" in proc.stderr
    assert proc.stdout == b""
