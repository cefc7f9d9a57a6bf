"""Support for the config tests: fake check kinds and the loader fixtures' types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.check import Check, CheckOptions, UnknownKind
from agent.config import Config
from agent.model import CheckResult


class FakeDiskOptions(CheckOptions):
    path: str = "/"
    min_free: int = 0


class FakeDisk(Check[FakeDiskOptions]):
    kind = "fakedisk"
    Options = FakeDiskOptions
    metrics = frozenset({"used_percent", "free_bytes"})

    async def run(self, ctx: Any) -> CheckResult:
        return CheckResult.ok("fine")


class FakeTlsOptions(CheckOptions):
    verify: bool = True
    ca_file: str | None = None


class FakeProbeOptions(CheckOptions):
    url: str
    expect: int | list[int] = 200
    headers: dict[str, str] = {}
    tls: FakeTlsOptions | None = None


class FakeProbe(Check[FakeProbeOptions]):
    """A kind whose metric names are open (like perfdata): any threshold name goes."""

    kind = "fakeprobe"
    Options = FakeProbeOptions


KINDS: dict[str, type[Check[Any]]] = {"fakedisk": FakeDisk, "fakeprobe": FakeProbe}
INSTALLED = ["cpu", "fakedisk", "fakeprobe", "http"]


def resolve_fake(kind: str) -> type[Check[Any]]:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownKind(kind, INSTALLED) from None


#: ``load(text, env=None) -> Config`` (the test fails on a ConfigError).
LoadText = Callable[..., Config]
#: One issue as (line, dotted path, message).
Triple = tuple[int | None, str, str]
#: ``issues(text, env=None) -> [Triple, ...]`` (the test fails if the text is valid).
LoadIssues = Callable[..., list[Triple]]
