"""The check contract: a kind name, an options model, and ``async run(ctx) -> CheckResult``.

Built-in and third-party checks register the same way, through the entry-point group
``watchkeeper.checks``; only the kinds a config names are imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from agent.clock import Clock, SystemClock
from agent.errors import WatchkeeperError
from agent.model import CheckResult

if TYPE_CHECKING:
    import httpx

    from agent.heartbeats import PingLog

ENTRY_POINT_GROUP = "watchkeeper.checks"


class CheckOptions(BaseModel):
    """Base of every check's options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=CheckOptions)


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
    #: Pushed heartbeat pings (the agent's store); None where no agent keeps them.
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
    """

    kind: ClassVar[str]
    Options: ClassVar[type[CheckOptions]]
    #: Metric names this kind reports (for "did you mean" on threshold keys); empty when
    #: the names depend on what is measured (perfdata, custom queries).
    metrics: ClassVar[frozenset[str]] = frozenset()

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
