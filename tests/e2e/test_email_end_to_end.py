"""Email, the channel most sysadmins start with: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess
from tests.servers.smtp_server import SmtpTestServer

pytestmark = pytest.mark.slow


def test_an_alert_and_its_resolve_arrive_by_email(tmp_path: Path) -> None:
    smtp = SmtpTestServer()
    smtp.start()
    (tmp_path / "smtp-password").write_text("Sm7pS3cret\n")
    url = (f"mailto://alerts:${{file:smtp-password}}@127.0.0.1:{smtp.port}"
           "?from=alerts@example.com&to=ops@example.com&mode=insecure")
    config = tmp_path / "config.yaml"

    def write(limit: str) -> None:
        config.write_text(f"""
agent: {{host: mailhost, state_dir: {tmp_path / 'state'}, interval: 1s}}
channels:
  email: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {{crit: "{limit}"}}
""")

    try:
        write("> 0")
        agent = AgentProcess(config, tmp_path / "agent.log")
        try:
            deadline = time.monotonic() + 30
            while not smtp.mails and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            agent.stop()
        write("> 1000")
        agent = AgentProcess(config, tmp_path / "agent.log")
        try:
            deadline = time.monotonic() + 30
            while len(smtp.mails) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            agent.stop()
    finally:
        smtp.stop()
    assert [m.recipients for m in smtp.mails] == [["ops@example.com"], ["ops@example.com"]]
    assert smtp.mails[0].login == "alerts"
    assert "Subject: CRITICAL mailhost mem: used_percent" in smtp.mails[0].data
    assert "Subject: RESOLVED mailhost mem: used_percent" in smtp.mails[1].data
    assert "Sm7pS3cret" not in agent.log()
