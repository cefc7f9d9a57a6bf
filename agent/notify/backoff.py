"""When to try a failed delivery again: exponential backoff with jitter, and when to stop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Waits of ``first``, 2x, 4x ... capped at ``cap``; give up ``give_up_after`` seconds
    after the delivery was queued.

    Jitter only shortens a wait (by up to ``jitter`` of it), so the cap is a true ceiling
    and deliveries that failed together spread out instead of retrying in lockstep.
    """

    first: float = 10.0
    cap: float = 15 * 60.0
    give_up_after: float = 24 * 3600.0
    jitter: float = 0.2

    def delay(self, failures: int, rand: float = 0.0) -> float:
        """The wait after the ``failures``-th failed attempt (``rand`` in [0, 1))."""
        n = max(failures, 1)
        # 2**n overflows float for absurd n; the cap is reached long before.
        base = self.cap if n > 60 else min(self.first * 2.0 ** (n - 1), self.cap)
        return base * (1.0 - self.jitter * min(max(rand, 0.0), 1.0))

    def next_attempt(self, created_at: float, now: float, failures: int,
                     rand: float = 0.0) -> float | None:
        """When to try again after a failure at ``now``; None when it is time to give up.

        The last retry is held at the give-up moment rather than skipped past it.
        """
        deadline = created_at + self.give_up_after
        if now >= deadline:
            return None
        return min(now + self.delay(failures, rand), deadline)
