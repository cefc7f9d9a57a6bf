"""The running agent's answers on its control socket, from its live state.

``LiveAnswers`` is given the pieces of the agent it reads (never changes): the config,
the judge's alert states and learned series, the latest runs, the store and the last
reload. It runs on
the agent's event loop, so what it reads is never half-updated.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent import __version__
from agent.alerting.silences import Silence
from agent.alerting.state import AlertState
from agent.clock import Clock
from agent.config.models import Config
from agent.control import (
    Acked,
    AckRequest,
    ControlError,
    RequestRefusedError,
    SilenceAdded,
    SilenceAddRequest,
    SilenceRemoved,
    SilenceRemoveRequest,
    UnackRequest,
)
from agent.incidents.record import Incident
from agent.latest import LatestRuns
from agent.model import AlertKey
from agent.store import Store
from agent.thresholds.series import SeriesJudge

if TYPE_CHECKING:
    # The reports are built when asked for: most agents are never asked.
    from agent.reports import AgentInfo, BaselineReport, QueueSource, StatusReport


class LastReload(Protocol):
    """What is read of the agent's last reload (``agent.reloader.ReloadOutcome``)."""

    @property
    def at(self) -> float: ...

    @property
    def problems(self) -> Sequence[object]: ...


class SilenceKeeper(Protocol):
    """Who adds and ends silences in the running agent (``agent.runtime.Agent``)."""

    def add_silence(self, check_glob: str, metric: str | None, duration: float,
                    reason: str) -> Silence: ...

    def remove_silence(self, silence_id: int) -> bool: ...

    def acknowledge(self, incident: str, by: str, comment: str, undo: bool = False
                    ) -> Incident: ...


class LiveAnswers:
    """Answers the control socket's requests (see ``agent.control.Answers``).

    ``config``, ``last_reload`` and ``problems`` are read at each request: a reload
    replaces the agent's config.
    """

    def __init__(self, config: Callable[[], Config], states: Mapping[AlertKey, AlertState],
                 series: Mapping[AlertKey, SeriesJudge], *, latest: LatestRuns,
                 store: Store | None, queue: QueueSource, clock: Clock, started_at: float,
                 last_reload: Callable[[], LastReload | None] = lambda: None,
                 problems: Callable[[], Sequence[str]] = tuple,
                 silences: SilenceKeeper | None = None) -> None:
        self.config = config
        self.states = states
        self.series = series
        self.latest = latest
        self.store = store
        self.queue = queue
        self.clock = clock
        self.started_at = started_at
        self.last_reload = last_reload
        self.problems = problems
        self.silences = silences

    def info(self) -> AgentInfo:
        """Who answers: this process, its config and its last reload."""
        from agent import logs
        from agent.reports import AgentInfo

        config, reload = self.config(), self.last_reload()
        return AgentInfo(
            pid=os.getpid(), host=config.agent.host, version=__version__,
            started_at=self.started_at, config_file=_file(config.source),
            last_reload=reload.at if reload is not None else None,
            reload_problems=[logs.scrubber.scrub(str(p)) for p in reload.problems]
            if reload is not None else [],
            problems=[logs.scrubber.scrub(p) for p in self.problems()])

    async def status(self) -> StatusReport:
        from agent.reports import open_alerts, status_report

        now = self.clock.now()
        # What the states reflect is as fresh as the newest result judged.
        as_of = max((run.finished_at for run in self.latest), default=now)
        # All of it live, read on the event loop where it changes: the database may be
        # the very thing that is wrong.
        return status_report(self.config(), open_alerts(self.states.values()), self.queue,
                             now=now, agent=self.info(), as_of=as_of)

    async def baseline(self) -> BaselineReport:
        from agent.reports import BaselineReport, SeriesKey, SeriesState, stored_series

        live = [SeriesState(key=SeriesKey.of(key), data=judge.to_bytes(),
                            last_sample_at=self._last_sample(key))
                for key, judge in sorted(self.series.items(), key=lambda kv: kv[0].as_text())]
        # Series not judged since the start (a check with a long interval) are as saved.
        stored = [] if self.store is None else await asyncio.to_thread(
            stored_series, self.store, dict(self.series))
        return BaselineReport(agent=self.info(), as_of=self.clock.now(), series=sorted(
            live + stored, key=lambda s: s.key.key.as_text()))

    async def add_silence(self, request: SilenceAddRequest) -> SilenceAdded:
        silence = self._keeper().add_silence(request.check, request.metric, request.duration,
                                             request.reason)
        return SilenceAdded(id=silence.id, starts_at=silence.starts_at,
                            ends_at=silence.ends_at)

    async def remove_silence(self, request: SilenceRemoveRequest) -> SilenceRemoved:
        return SilenceRemoved(removed=self._keeper().remove_silence(request.id))

    async def ack(self, request: AckRequest | UnackRequest) -> Acked:
        undo = isinstance(request, UnackRequest)
        comment = "" if isinstance(request, UnackRequest) else request.comment
        try:
            record = self._keeper().acknowledge(request.incident, request.by, comment, undo)
        except LookupError as exc:
            raise RequestRefusedError(str(exc.args[0])) from None
        return Acked(incident=record.id, alert=record.key, acked_by=record.acked_by)

    def _keeper(self) -> SilenceKeeper:
        if self.silences is None:
            raise ControlError("this agent does not take silences")
        return self.silences

    def _last_sample(self, key: AlertKey) -> float | None:
        """When the check last reported this series (None when its latest run did not)."""
        run = self.latest.get(key.check)
        if run is None:
            return None
        reported = any(s.metric == key.metric and s.labels == key.labels
                       for s in run.result.samples)
        return run.finished_at if reported else None


def _file(source: str) -> str:
    """The config file's absolute path (its source as given when it is not a file)."""
    path = Path(source)
    return str(path.resolve()) if path.is_file() else source
