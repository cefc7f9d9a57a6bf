"""What a reload changes: the difference between the running config and a new one.

Pure: ``plan(old, new)`` compares the two configs and says which checks start, stop,
restart or keep running untouched, whether the listener must be rebound, and which
changes cannot be applied without a restart (the reload is then refused as a whole, so
the agent never runs half of each config).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.config.full import config_line
from agent.config.models import CheckConfig, Config
from agent.errors import ConfigIssue

#: Settings a running agent cannot take over: its identity and where its state lives.
_RESTART_ONLY = ("host", "state_dir")


@dataclass(frozen=True)
class ReloadPlan:
    """The checks by fate (names, in the new config's order where they are in it)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: Checks whose config changed: the old instance stops, a new one starts. Alert
    #: states, learned baselines and (for the same options) memory carry over by key.
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    #: Changed checks whose kind and options are the same (only interval, timeout,
    #: thresholds, tags or alert policy changed): their memory still means what it meant.
    same_options: frozenset[str] = frozenset()
    listener: bool = False
    #: Changes that need a restart; non-empty means the plan must not be applied.
    problems: tuple[ConfigIssue, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """``2 checks added, 1 removed, 1 changed, 12 unchanged``."""
        return (f"{len(self.added)} check{'s' if len(self.added) != 1 else ''} added, "
                f"{len(self.removed)} removed, {len(self.changed)} changed, "
                f"{len(self.unchanged)} unchanged")


def plan(old: Config, new: Config) -> ReloadPlan:
    """How to go from the running ``old`` config to ``new`` without a restart."""
    problems = tuple(
        ConfigIssue(new.source, config_line(new, ("agent", name)), f"agent.{name}",
                    f"changing {name} needs a restart (running with "
                    f"{getattr(old.agent, name)}, the file says {getattr(new.agent, name)})")
        for name in _RESTART_ONLY if getattr(old.agent, name) != getattr(new.agent, name))
    before = {c.name: c for c in old.checks if c.enabled}
    after = {c.name: c for c in new.checks if c.enabled}
    changed = tuple(n for n in after if n in before and before[n] != after[n])
    return ReloadPlan(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        changed=changed,
        unchanged=tuple(n for n in after if n in before and before[n] == after[n]),
        same_options=frozenset(n for n in changed if _same_options(before[n], after[n])),
        listener=_listener_settings(old) != _listener_settings(new),
        problems=problems)


def _same_options(a: CheckConfig, b: CheckConfig) -> bool:
    return a.kind == b.kind and a.options == b.options


def _listener_settings(config: Config) -> tuple[object, ...]:
    # The listener takes pings for the checks it was started with: a check added or
    # removed may change that, so any change of the check list rebinds it too.
    return (config.agent.listen, config.agent.token, config.agent.public_url,
            tuple(sorted((c.name, c.kind) for c in config.checks)))
