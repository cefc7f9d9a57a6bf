"""What the agent shows Prometheus on ``/metrics``: checks' latest values and statuses,
firing alerts, scheduler totals, the notification queue and the version.

Only names, kinds, labels and numbers: nothing of channels or check options, so no
secret. Every family is named ``watchkeeper_...``. A check metric whose name would clash
with one of the agent's own families is left out rather than mixed into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from agent import __version__
from agent.alerting.state import AlertState, Phase
from agent.latest import LatestRun
from agent.model import AlertKey
from agent.prometheus import Exposition, MetricType, NameClashError, metric_name
from agent.scheduler import JobStats

log = logging.getLogger("watchkeeper.http")

PREFIX = "watchkeeper_"


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """The notification queue at one moment."""

    queued: int
    dead: int


class OutboxCounter(Protocol):
    """Where the queue is counted (the agent's store; blocking calls)."""

    def pending_count(self) -> int: ...

    def dead_count(self) -> int: ...


def exposition(runs: Iterable[LatestRun], alerts: Iterable[AlertState],
               stats: Mapping[str, JobStats], outbox: OutboxCounts,
               version: str = __version__) -> str:
    """The ``/metrics`` page for these runs, alert states, scheduler stats and queue."""
    page = Exposition()
    gauge, counter = MetricType.GAUGE, MetricType.COUNTER
    status = page.family(PREFIX + "check_status", "status of each check's latest run: "
                         "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    last_run = page.family(PREFIX + "check_last_run_timestamp_seconds",
                           "when each check's latest run finished, in Unix time")
    duration = page.family(PREFIX + "check_duration_seconds",
                           "how long each check's latest run took")
    runs_total = page.family(PREFIX + "check_runs_total",
                             "runs of each check since the agent started", counter)
    skipped = page.family(PREFIX + "check_skipped_total", "turns of each check skipped "
                          "because its previous run was still going", counter)
    timeouts = page.family(PREFIX + "check_timeouts_total",
                           "runs of each check that overran their timeout", counter)
    firing = page.family(PREFIX + "alert_firing", "1 for each firing alert")
    queued = page.family(PREFIX + "notifications_queued", "notifications waiting to be sent")
    dead = page.family(PREFIX + "notifications_dead",
                       "notifications given up on after their retries, kept until pruned")
    info = page.family(PREFIX + "build_info", "the running watchkeeper version (always 1)")

    runs = list(runs)
    for run in runs:
        ids = {"check": run.check, "kind": run.kind}
        status.add(run.result.status.exit_code, ids)
        last_run.add(run.finished_at, {"check": run.check})
        duration.add(run.duration, {"check": run.check})
    for name in sorted(stats):
        st = stats[name]
        runs_total.add(st.runs, {"check": name})
        skipped.add(st.skipped, {"check": name})
        timeouts.add(st.timeouts, {"check": name})
    firing_states = sorted((s for s in alerts if s.phase is Phase.FIRING),
                           key=lambda s: s.key.as_text())
    for state in firing_states:
        key = state.key
        firing.add(1, [("check", key.check), ("metric", key.metric),
                       ("severity", state.severity.value), *key.labels])
    queued.add(outbox.queued)
    dead.add(outbox.dead)
    info.add(1, {"version": version})

    for run in runs:
        for sample in run.result.samples:
            name = metric_name(sample.metric)
            try:
                fam = page.family(PREFIX + name, f"latest value of {name} reported by "
                                  "watchkeeper checks", gauge)
            except NameClashError as exc:
                log.debug("metric %s of check %s left off /metrics: %s", sample.metric,
                          run.check, exc)
                continue
            fam.add(sample.value, [("check", run.check), ("kind", run.kind), *sample.labels])
    return page.render()


class AgentMetrics:
    """The live sources of a running agent's ``/metrics``; calling it renders the page.

    The queue is counted in a thread (the store blocks); everything else is read on the
    event loop, where it changes, so no dict is read while it is being written.
    """

    def __init__(self, runs: Iterable[LatestRun], alerts: Mapping[AlertKey, AlertState],
                 stats: Mapping[str, JobStats], store: OutboxCounter,
                 version: str = __version__) -> None:
        self.runs = runs
        self.alerts = alerts
        self.stats = stats
        self.store = store
        self.version = version

    def _outbox(self) -> OutboxCounts:
        return OutboxCounts(self.store.pending_count(), self.store.dead_count())

    async def __call__(self) -> str:
        outbox = await asyncio.to_thread(self._outbox)
        return exposition(self.runs, self.alerts.values(), self.stats, outbox, self.version)
