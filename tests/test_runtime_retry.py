"""``agent.retry`` sets how the running agent tries a failed target again, from the start
and after a reload; a bad one is refused with its place in the file.

In process, with a fake clock (the dispatcher is not started).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from agent.notify.backoff import RetryPolicy
from agent.runtime import Agent

CONFIG = """
agent:
  host: web1
  state_dir: {state}
  retry: {{first: 2s, cap: 1m, give_up: 6h}}
channels:
  ops: ["json://127.0.0.1:9/hook"]
checks:
  - name: mem
    kind: memory
"""


def test_the_outbox_backs_off_as_the_config_says(agent: Agent) -> None:
    retry = agent.outbox.retry
    assert (retry.first, retry.cap, retry.give_up_after) == (2.0, 60.0, 6 * 3600.0)
    assert [retry.delay(n) for n in (1, 2, 3, 6, 7)] == [2.0, 4.0, 8.0, 60.0, 60.0]


async def test_a_reload_changes_the_backoff(agent: Agent) -> None:
    path = Path(agent.config.source)
    path.write_text(path.read_text().replace("first: 2s, cap: 1m, give_up: 6h", "first: 30s"))
    outcome = await agent.reloader.reload()
    assert not outcome.failed, outcome.problems
    assert agent.outbox.retry == RetryPolicy(first=30.0, cap=900.0, give_up_after=86400.0)


def test_without_it_the_defaults_hold(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\nchecks: []\n")
    assert load_config(path).agent.retry.policy() == RetryPolicy()


@pytest.mark.parametrize(("retry", "line", "words"), [
    ("{first: 500ms}", 3, "agent.retry.first: must be at least 1s, got 500ms"),
    ("{first: 0s}", 3, "agent.retry.first"),
    ("{first: 20m}", 3, "agent.retry: first (20m) is longer than cap (15m)"),
    ("{first: 1m, cap: 30s}", 3, "first (1m) is longer than cap (30s)"),
    ("{give_up: -1h}", 3, "agent.retry.give_up"),
    ("{giveup: 1h}", 3, "unknown key 'giveup'; did you mean 'give_up'?"),
    ("10s", 3, "agent.retry"),
])
def test_a_bad_retry_is_refused_naming_it(tmp_path: Path, retry: str, line: int,
                                          words: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\n  retry: {retry}\n"
                    "checks: []\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = "\n".join(str(i) for i in err.value.issues)
    assert f"{path}:{line}: " in text, text
    assert words in text, text
