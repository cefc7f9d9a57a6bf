"""Email, the channel most sysadmins start with: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.agent_process import Agents, wait_until
from tests.servers.smtp_server import SmtpTestServer

pytestmark = pytest.mark.slow

CONFIG = """
agent: {host: mailhost, state_dir: {state}, interval: 1s, group_window: 0s}
channels:
  email: ["{email}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "{limit}"}
"""


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


def test_an_alert_and_its_resolve_arrive_by_email(agents: Agents, smtp: SmtpTestServer) -> None:
    (agents.tmp / "smtp-password").write_text("Sm7pS3cret\n")
    email = (f"mailto://alerts:${{file:smtp-password}}@127.0.0.1:{smtp.port}"
             "?from=alerts@example.com&to=ops@example.com&mode=insecure")
    firing = agents.start(CONFIG, email=email, limit="> 0")
    wait_until(lambda: smtp.mails, what="the alert's mail")
    assert firing.stop() == 0
    resolving = agents.start(CONFIG, email=email, limit="> 1000")
    wait_until(lambda: len(smtp.mails) >= 2, what="the resolve's mail")
    assert resolving.stop() == 0
    assert [m.recipients for m in smtp.mails] == [["ops@example.com"], ["ops@example.com"]]
    assert smtp.mails[0].login == "alerts"
    assert "Subject: CRITICAL mailhost mem: used_percent" in smtp.mails[0].data
    assert "Subject: RESOLVED mailhost mem: used_percent" in smtp.mails[1].data
    assert "Sm7pS3cret" not in firing.log() + resolving.log()
