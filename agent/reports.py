"""What ``watchkeeper status`` and ``baseline`` show, as plain values.

The running agent builds them from its live state and sends them over the control socket;
when no agent runs, the CLI builds the same from the store. The builders here are shared by
both, so the two can only differ in what they know, never in how it is put. Secrets never
get in: target URLs are masked and errors scrubbed when a report is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from agent.alerting.silences import Silence
from agent.alerting.state import AlertState, EventKind, Phase
from agent.config.models import Config
from agent.model import AlertKey, Status, make_labels
from agent.store import OutboxRow, Store

#: Queued notifications listed at most (the total is always given).
QUEUE_SHOWN = 200


class _Report(BaseModel):
    # Built on first use, not at import: the agent's start-up does not wait for them.
    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64",
                              defer_build=True)


class AgentInfo(_Report):
    """The agent that answered: who it is and since when it runs."""

    pid: int
    host: str
    version: str
    started_at: float
    config_file: str
    #: When the config was last reloaded (or a reload tried); None: never since the start.
    last_reload: float | None = None
    #: Why that reload was refused (the agent runs on the config before it); empty: it
    #: applied.
    reload_problems: list[str] = []
    #: What is wrong with the agent itself now (the state database cannot be written, the
    #: last reload failed); empty: nothing.
    problems: list[str] = []


class SeriesKey(_Report):
    """An alert key in a form JSON holds."""

    host: str
    check: str
    metric: str
    labels: dict[str, str] = {}

    @classmethod
    def of(cls, key: AlertKey) -> SeriesKey:
        return cls(host=key.host, check=key.check, metric=key.metric, labels=dict(key.labels))

    @property
    def key(self) -> AlertKey:
        return AlertKey(self.host, self.check, self.metric, make_labels(self.labels))


class AlertRow(_Report):
    """One open (pending or firing) alert."""

    key: SeriesKey
    phase: Phase
    severity: Status
    since: float | None
    why: str
    updated_at: float | None

    @property
    def state(self) -> AlertState:
        return AlertState(self.key.key, self.phase, self.severity, problem_since=self.since,
                          why=self.why, updated_at=self.updated_at)


class QueuedRow(_Report):
    """One notification waiting to be delivered, and why it has not been yet."""

    id: int
    kind: EventKind
    alert: str
    channel: str
    target: int
    #: The target's URL with its secrets masked ("" when the channel is gone).
    url: str
    attempts: int
    last_error: str | None
    last_attempt_at: float | None
    next_attempt_at: float
    created_at: float


class SilenceRow(_Report):
    """One active silence."""

    id: int
    check_glob: str
    metric: str | None
    starts_at: float
    ends_at: float
    reason: str
    created_at: float

    def silence(self, host: str) -> Silence:
        return Silence(self.id, self.check_glob, self.metric, self.starts_at, self.ends_at,
                       self.reason, self.created_at, host)


class StatusReport(_Report):
    """Open alerts, queued notifications and silences, and how current they are."""

    #: The agent that answered; None when read from the store (no agent running).
    agent: AgentInfo | None
    #: When what is shown was last current: the agent's latest check result, or the
    #: store's last write.
    as_of: float
    alerts: list[AlertRow]
    queued: list[QueuedRow]
    queued_total: int
    dead: int
    silences: list[SilenceRow]


class SeriesState(_Report):
    """What one learned series knows (``SeriesJudge.to_bytes``) and how fresh it is."""

    key: SeriesKey
    data: bytes
    #: When the series last got a sample, as far as the answerer knows.
    last_sample_at: float | None = None
    #: When it was saved to the store; None when this is the agent's live state.
    saved_at: float | None = None


class BaselineReport(_Report):
    """Every learned series, live from the agent or as saved in the store."""

    agent: AgentInfo | None
    #: When the agent answered, or when the store was last written.
    as_of: float
    series: list[SeriesState]


# -- builders --------------------------------------------------------------------------


def open_alerts(states: Iterable[AlertState]) -> list[AlertState]:
    """The pending and firing ones, oldest problem first (the store's order)."""
    found = [s for s in states if s.phase in (Phase.PENDING, Phase.FIRING)]
    return sorted(found, key=lambda s: (s.problem_since or s.updated_at or 0.0,
                                        s.key.as_text()))


class QueueSource(Protocol):
    """Where the queue and the silences are read: the store, or the agent's memory."""

    def pending(self, limit: int = 1000) -> list[OutboxRow]: ...

    def pending_count(self) -> int: ...

    def dead_count(self) -> int: ...

    def silences(self, active_at: float | None = None, *, host: str) -> list[Silence]: ...


def status_report(config: Config, alerts: Sequence[AlertState], store: QueueSource, *,
                  now: float, agent: AgentInfo | None, as_of: float) -> StatusReport:
    """The status of ``alerts`` with the queue and silences read from ``store``."""
    queued = store.pending(limit=QUEUE_SHOWN)
    return StatusReport(
        agent=agent, as_of=as_of,
        alerts=[AlertRow(key=SeriesKey.of(a.key), phase=a.phase, severity=a.severity,
                         since=a.problem_since, why=a.why, updated_at=a.updated_at)
                for a in alerts],
        queued=[queued_row(config, r) for r in queued],
        queued_total=len(queued) if len(queued) < QUEUE_SHOWN else store.pending_count(),
        dead=store.dead_count(),
        silences=[SilenceRow(id=s.id, check_glob=s.check_glob, metric=s.metric,
                             starts_at=s.starts_at, ends_at=s.ends_at, reason=s.reason,
                             created_at=s.created_at)
                  for s in store.silences(active_at=now, host=config.agent.host)])


def queued_row(config: Config, row: OutboxRow) -> QueuedRow:
    """An outbox row as shown: its target's URL masked, its last error scrubbed."""
    from agent import logs
    from agent.notify.masking import mask_url, scrub

    channel = config.channels.get(row.channel)
    urls = channel.urls if channel is not None else ()
    url = mask_url(urls[row.target]) if 0 <= row.target < len(urls) else ""
    error = None
    if row.last_error is not None:
        error = logs.scrubber.scrub(scrub(row.last_error, urls))
    return QueuedRow(id=row.id, kind=row.event.kind, alert=row.event.key.as_text(),
                     channel=row.channel, target=row.target, url=url, attempts=row.attempts,
                     last_error=error, last_attempt_at=row.last_attempt_at,
                     next_attempt_at=row.next_attempt_at, created_at=row.created_at)


def stored_series(store: Store, skip: Mapping[AlertKey, object] | None = None
                  ) -> list[SeriesState]:
    """The learned series as saved in ``store`` (but those in ``skip``)."""
    out = []
    for key in store.learned_keys():
        if skip is not None and key in skip:
            continue
        data = store.load_learned(key)
        if data is not None:
            out.append(SeriesState(key=SeriesKey.of(key), data=data,
                                   saved_at=store.learned_saved_at(key)))
    return out
