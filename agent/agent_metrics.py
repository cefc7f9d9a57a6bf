"""What the agent shows Prometheus on ``/metrics``: checks' latest values and statuses,
firing alerts, scheduler totals, the notification queue and the version.

Only names, kinds, labels and numbers: nothing of channels or check options, so no
secret. Every family is named ``watchkeeper_...``. A check metric is exposed in base units
(``response_ms`` as ``watchkeeper_response_seconds``, ``used_percent`` as
``watchkeeper_used_ratio``; see ``agent.prometheus.exposed_metric``), its HELP naming the
metric and unit the check reports. One whose name would clash with one of the agent's own
families is left out rather than mixed into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from agent import __version__
from agent.alerting.state import AlertState, Phase
from agent.incidents.counters import IncidentCounters
from agent.latest import LatestRun
from agent.model import AlertKey
from agent.prometheus import (
    BaseUnit,
    ExposedMetric,
    Exposition,
    Family,
    MetricType,
    NameClashError,
    exposed_metric,
)
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
               version: str = __version__, *, incidents: IncidentFigures | None = None,
               uptime: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """The ``/metrics`` page for these runs, alert states, scheduler stats and queue (and
    incident management's counters and the checks' uptime ratios, when given)."""
    page = Exposition()
    counter = MetricType.COUNTER
    status = page.family(PREFIX + "check_status", "judged status of each check's latest "
                         "run (its own outcome and its thresholds together): "
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
        status.add(run.status.exit_code, ids)
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
    alerts = list(alerts)
    if incidents is not None:
        _add_incident_metrics(page, incidents, alerts)
    if uptime is not None:
        ratio = page.family(PREFIX + "check_uptime_ratio", "fraction of each check's runs "
                            "over the window that were up (OK or WARNING; CRITICAL is "
                            "down, UNKNOWN no data), 1 is 100%")
        for check in sorted(uptime):
            for window, value in sorted(uptime[check].items()):
                ratio.add(value, {"check": check, "window": window})

    _add_check_metrics(page, runs)
    return page.render()


@dataclass(frozen=True, slots=True)
class IncidentFigures:
    """Incident management's numbers at one moment."""

    open: int
    counters: IncidentCounters


def _add_incident_metrics(page: Exposition, figures: IncidentFigures,
                          alerts: list[AlertState]) -> None:
    counter = MetricType.COUNTER
    c = figures.counters
    page.family(PREFIX + "incidents_open", "incidents open now").add(figures.open)
    for name, help_text, counts in (
            ("incidents_opened_total", "incidents opened since the agent started", c.opened),
            ("flapping_spells_total", "times an alert started flapping (announced once)",
             c.flapping),
            ("incidents_acknowledged_total", "incidents someone acknowledged",
             c.acknowledged),
            ("escalations_total", "escalation steps taken (incidents nobody answered)",
             c.escalations),
            ("actions_total", "runs of checks' on_firing / on_resolved commands", c.actions)):
        family = page.family(PREFIX + name, help_text, counter)
        for check in sorted(counts):
            family.add(counts[check], {"check": check})
    held = page.family(PREFIX + "alerts_held_total", "new alerts held back, by why: a "
                       "silence, a maintenance window, a dependency, grouping", counter)
    for (check, reason) in sorted(c.held):
        held.add(c.held[(check, reason)], {"check": check, "reason": reason})
    flapping = page.family(PREFIX + "alert_flapping", "1 for each alert flapping now")
    for state in sorted((s for s in alerts if s.flapping), key=lambda s: s.key.as_text()):
        flapping.add(1, [("check", state.key.check), ("metric", state.key.metric),
                         *state.key.labels])


def _add_check_metrics(page: Exposition, runs: list[LatestRun]) -> None:
    """The checks' samples, one family per exposed name (which several check metrics may
    share: ``response_ms`` and ``response_seconds`` are both ``response_seconds``)."""
    exposed: dict[str, ExposedMetric] = {}
    groups: dict[str, list[ExposedMetric]] = {}
    for run in runs:
        for sample in run.result.samples:
            if sample.metric not in exposed:
                how = exposed[sample.metric] = exposed_metric(sample.metric)
                groups.setdefault(how.name, []).append(how)
    families: dict[str, Family] = {}
    for name, group in groups.items():
        try:
            families[name] = page.family(PREFIX + name, _check_metric_help(group),
                                         group[0].type)
        except NameClashError as exc:
            log.debug("metric %s left off /metrics: %s",
                      " and ".join(how.metric for how in group), exc)
    for run in runs:
        for sample in run.result.samples:
            how = exposed[sample.metric]
            fam = families.get(how.name)
            if fam is not None:
                fam.add(how.value(sample.value),
                        [("check", run.check), ("kind", run.kind), *sample.labels])


def _check_metric_help(group: list[ExposedMetric]) -> str:
    """``latest value of response_ms (milliseconds) reported by watchkeeper checks, in
    seconds``: the names and units the checks report, and the unit shown."""
    names = " or ".join(f"{how.metric} ({how.unit})" if how.unit else how.metric
                        for how in sorted(group, key=lambda how: how.metric))
    text = f"latest value of {names} reported by watchkeeper checks"
    base = group[0].base
    if base is None or not any(how.converted for how in group):
        return text
    if base is BaseUnit.RATIO:
        return text + ", as a ratio (1 is 100%)"
    return text + f", in {base.value}"


class AgentMetrics:
    """The live sources of a running agent's ``/metrics``; calling it renders the page.

    The queue is counted in a thread (the store blocks); everything else is read on the
    event loop, where it changes, so no dict is read while it is being written.
    """

    def __init__(self, runs: Iterable[LatestRun], alerts: Mapping[AlertKey, AlertState],
                 stats: Mapping[str, JobStats], store: OutboxCounter,
                 version: str = __version__, *,
                 incidents: Callable[[], IncidentFigures] | None = None,
                 uptime: Callable[[], Awaitable[Mapping[str, Mapping[str, float]]]] | None
                 = None) -> None:
        self.incidents = incidents
        self.uptime = uptime
        self.runs = runs
        self.alerts = alerts
        self.stats = stats
        self.store = store
        self.version = version

    def _outbox(self) -> OutboxCounts:
        return OutboxCounts(self.store.pending_count(), self.store.dead_count())

    async def __call__(self) -> str:
        outbox = await asyncio.to_thread(self._outbox)
        uptime = await self.uptime() if self.uptime is not None else None
        return exposition(self.runs, self.alerts.values(), self.stats, outbox, self.version,
                          incidents=self.incidents() if self.incidents is not None else None,
                          uptime=uptime)
