"""The check contract: a kind name, an options model, and ``async run(ctx) -> CheckResult``.

Built-in and third-party checks register the same way, through the entry-point group
``watchkeeper.checks``; only the kinds a config names are imported. What a kind needs
from the agent (the HTTP pool, pings) it declares on its class (``Check.needs``).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from agent.clock import Clock, SystemClock
from agent.errors import WatchkeeperError
from agent.model import CheckResult
from agent.thresholds.rules import ThresholdRule

if TYPE_CHECKING:
    import httpx

    from agent.heartbeats import PingLog

ENTRY_POINT_GROUP = "watchkeeper.checks"


class CheckOptions(BaseModel):
    """Base of every check's options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=CheckOptions)


class Capability(enum.Enum):
    """Something a check kind needs from the agent, declared in ``Check.needs``."""

    #: The pool of shared HTTP clients, one per TLS/proxy/IP-family setting
    #: (``agent.http_client.pool_from(ctx)``); without it ``ctx.http`` is one plain client.
    HTTP_POOL = "http_pool"
    #: Pings pushed to the agent's listener (``/ping/NAME``, ``watchkeeper ping NAME``),
    #: read through ``ctx.heartbeats``; the listener takes pings only for such checks.
    PINGS = "pings"


@dataclass
class CheckContext:
    """What a running check may use: shared HTTP client, clock, logger and its own memory.

    ``memory`` is a small JSON-serialisable dict that the agent persists between runs and
    across restarts (a log position, the previous value of a counter, ...).
    """

    check_name: str
    host: str
    timeout: float
    clock: Clock = field(default_factory=SystemClock)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("watchkeeper.check"))
    memory: MutableMapping[str, Any] = field(default_factory=dict)
    http_client_factory: Callable[[], httpx.AsyncClient] | None = None
    #: Pushed heartbeat pings (the agent's store); None where no agent keeps them, and
    #: for a kind that does not declare ``Capability.PINGS``.
    heartbeats: PingLog | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The agent's one shared HTTP client (created on first use)."""
        if self.http_client_factory is None:
            import httpx

            client = httpx.AsyncClient()
            self.http_client_factory = lambda: client
        return self.http_client_factory()


class Check(Generic[OptionsT]):
    """Base class of a check kind.

    Subclasses set ``kind`` and ``Options`` and implement ``run``. The constructor receives
    the check's name and its validated options. ``run`` measures and returns a CheckResult;
    it may raise (the agent turns that into UNKNOWN) and it must not alert or send anything.

    ``needs`` says what the kind wants from the agent beyond the context every check gets
    (a shared HTTP client, the clock, a logger, its memory)::

        needs: ClassVar[frozenset[Capability]] = frozenset({Capability.HTTP_POOL})

    The agent asks the classes of the configured kinds, never their names, so a
    third-party kind that declares a capability gets exactly what a built-in one gets.
    """

    kind: ClassVar[str]
    Options: ClassVar[type[CheckOptions]]
    #: Metric names this kind reports (for "did you mean" on threshold keys); empty when
    #: the names depend on what is measured (perfdata, custom queries).
    metrics: ClassVar[frozenset[str]] = frozenset()
    #: What the kind needs from the agent (see ``Capability``).
    needs: ClassVar[frozenset[Capability]] = frozenset()

    @classmethod
    def targets(cls, options: Any) -> tuple[str, ...]:
        """The hosts it reaches over the network (empty: it checks this machine); the
        agent's ``connectivity`` check holds back the alerts of checks with a remote one
        while the host cannot reach the network."""
        return ()

    @classmethod
    def where(cls, options: Any) -> str | None:
        """What it watches, as its messages name it: a URL, ``host:port`` or a path
        (None: nothing beyond the host it runs on). Never with credentials in it. By
        default the hosts it reaches (``targets``)."""
        return ", ".join(cls.targets(options)) or None

    @classmethod
    def default_thresholds(cls, options: Any) -> dict[str, ThresholdRule]:
        """Thresholds the kind's own options imply (the tls check's ``warn_days`` on
        ``cert_days_left``); a metric's ``thresholds:`` in the config replace them. Limits
        belong in thresholds, so that one problem is judged in one place, as one alert."""
        return {}

    def __init__(self, name: str, options: OptionsT) -> None:
        self.name = name
        self.options = options

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Measure once."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the check holds (connections). Called when the agent stops."""


class UnknownKind(WatchkeeperError):  # noqa: N818 - reads as the condition it names
    """No installed check kind has this name (the config loader reports it as an issue)."""

    def __init__(self, kind: str, available: list[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.available = available


def available_kinds() -> list[str]:
    """Names of every check kind installed (built-in and third-party), sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_kind(kind: str) -> type[Check[Any]]:
    """Import and return the check class registered under ``kind``.

    Raises UnknownKind when nothing is registered under that name.
    """
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
    if not matches:
        raise UnknownKind(kind, available_kinds())
    cls = matches[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise TypeError(f"entry point {kind!r} does not name a Check subclass")
    return cls

