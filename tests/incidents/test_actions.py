"""Remediation actions: what may run, what they are told, and how an outcome reads."""

from __future__ import annotations

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.incidents.actions import Budget, Outcome, after_fix, environment
from agent.model import AlertKey, Status

KEY = AlertKey("web1", "disks", "used_percent", (("mount", "/var"),))


def test_at_most_n_runs_an_hour_per_alert() -> None:
    budget = Budget()
    assert [budget.take(KEY, t, 2) for t in (0, 10, 20)] == [True, True, False]
    assert budget.take(AlertKey("web1", "other", "status"), 20, 2)  # another alert's own
    assert budget.take(KEY, 3601, 2)  # the first run is an hour old


def test_the_command_is_told_the_alert() -> None:
    ev = AlertEvent(EventKind.FIRING, KEY, Status.CRITICAL, 0.0, "inc-1", "96% > 95%",
                    value=96.0)
    assert environment(ev) == {
        "WATCHKEEPER_EVENT": "firing", "WATCHKEEPER_HOST": "web1",
        "WATCHKEEPER_CHECK": "disks", "WATCHKEEPER_METRIC": "used_percent",
        "WATCHKEEPER_SEVERITY": "critical", "WATCHKEEPER_INCIDENT": "inc-1",
        "WATCHKEEPER_WHY": "96% > 95%", "WATCHKEEPER_VALUE": "96.0",
        "WATCHKEEPER_LABEL_MOUNT": "/var"}


@pytest.mark.parametrize(("outcome", "text"), [
    (Outcome(("systemctl", "restart", "nginx"), 0.0, 1.25, 0),
     "ran `systemctl restart nginx`: exit 0 after 1.25s"),
    (Outcome(("x",), 0.0, 30.0, None, "still going", timed_out=True),
     "ran `x`: timed out after 30s (output: still going)"),
    (Outcome(("nope",), 0.0, 0.0, None, error="No such file or directory"),
     "could not run `nope`: No such file or directory"),
    (Outcome(("sh", "-c", "echo a b"), 0.0, 0.5, 1, "line one\nline two"),
     "ran `sh -c 'echo a b'`: exit 1 after 500ms (output: line one line two)"),
], ids=["ok", "timed-out", "not-found", "quoted"])
def test_an_outcome_reads_in_one_line(outcome: Outcome, text: str) -> None:
    assert outcome.text() == text


def test_a_resolve_after_the_action_credits_it() -> None:
    done = Outcome(("systemctl", "restart", "nginx"), 100.0, 1.0, 0)
    assert after_fix(done, 104.0).endswith("; OK again 4s after it")
