"""Retry timing: exponential, capped, jittered downwards, and a give-up deadline."""

from __future__ import annotations

import pytest

from agent.notify.backoff import RetryPolicy

POLICY = RetryPolicy(first=10.0, cap=900.0, give_up_after=86400.0, jitter=0.2)


@pytest.mark.parametrize(("failures", "rand", "delay"), [
    (1, 0.0, 10.0), (2, 0.0, 20.0), (3, 0.0, 40.0), (4, 0.0, 80.0), (7, 0.0, 640.0),
    (8, 0.0, 900.0), (30, 0.0, 900.0), (10_000, 0.0, 900.0),
    (0, 0.0, 10.0),             # nonsense counts read as the first failure
    (1, 0.5, 9.0), (1, 1.0, 8.0), (8, 1.0, 720.0),
    (2, 7.0, 16.0),             # rand is clamped to [0, 1]
])
def test_delay(failures: int, rand: float, delay: float) -> None:
    assert POLICY.delay(failures, rand) == pytest.approx(delay)


@pytest.mark.parametrize(("created", "now", "failures", "expected"), [
    (0.0, 5.0, 1, 15.0),
    (0.0, 1000.0, 3, 1040.0),
    (0.0, 86000.0, 20, 86400.0),     # the last retry is held at the deadline
    (0.0, 86400.0, 20, None),        # at the deadline: give up
    (0.0, 90000.0, 1, None),         # queued long ago (agent was down): give up on failure
])
def test_next_attempt(created: float, now: float, failures: int,
                      expected: float | None) -> None:
    assert POLICY.next_attempt(created, now, failures) == expected
