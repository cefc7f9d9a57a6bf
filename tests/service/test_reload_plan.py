"""What a reload changes, decided from the old and the new config alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.config.models import Config
from agent.reload import plan

BASE = """\
agent:
  host: h1
  state_dir: {state}
{agent_extra}checks:
  - name: cpu
    kind: cpu
  - name: disk
    kind: disk
    path: /
    interval: 1m
{extra}"""


def config(tmp_path: Path, name: str, extra: str = "", agent_extra: str = "",
           state: str = "state") -> Config:
    path = tmp_path / name
    path.write_text(BASE.format(state=tmp_path / state, extra=extra, agent_extra=agent_extra))
    return load_config(path)


@pytest.mark.parametrize(("extra", "expected"), [
    ("", ((), (), (), ("cpu", "disk"))),
    ("  - name: load\n    kind: load\n", (("load",), (), (), ("cpu", "disk"))),
])
def test_added_and_unchanged_checks(tmp_path: Path, extra: str,
                                    expected: tuple[tuple[str, ...], ...]) -> None:
    p = plan(config(tmp_path, "old.yaml"), config(tmp_path, "new.yaml", extra))
    assert (p.added, p.removed, p.changed, p.unchanged) == expected
    assert not p.problems


def test_a_changed_interval_restarts_the_check_and_keeps_its_memory(tmp_path: Path) -> None:
    old = config(tmp_path, "old.yaml")
    new_text = (tmp_path / "old.yaml").read_text().replace("interval: 1m", "interval: 2m")
    (tmp_path / "new.yaml").write_text(new_text)
    p = plan(old, load_config(tmp_path / "new.yaml"))
    assert p.changed == ("disk",) and p.same_options == frozenset({"disk"})
    assert p.unchanged == ("cpu",)


def test_changed_options_start_the_check_afresh(tmp_path: Path) -> None:
    old = config(tmp_path, "old.yaml")
    text = (tmp_path / "old.yaml").read_text().replace(
        "    path: /\n", "    path: /tmp\n")
    (tmp_path / "new.yaml").write_text(text)
    p = plan(old, load_config(tmp_path / "new.yaml"))
    assert p.changed == ("disk",) and p.same_options == frozenset()


def test_a_removed_check_and_a_rebound_listener(tmp_path: Path) -> None:
    old = config(tmp_path, "old.yaml", agent_extra="  listen: 127.0.0.1:9110\n")
    disk = "  - name: disk\n    kind: disk\n    path: /\n    interval: 1m\n"
    text = (tmp_path / "old.yaml").read_text().replace(disk, "").replace("9110", "9111")
    (tmp_path / "new.yaml").write_text(text)
    p = plan(old, load_config(tmp_path / "new.yaml"))
    assert p.removed == ("disk",) and p.listener


def test_a_new_state_dir_needs_a_restart(tmp_path: Path) -> None:
    p = plan(config(tmp_path, "old.yaml"), config(tmp_path, "new.yaml", state="other"))
    assert [i.path for i in p.problems] == ["agent.state_dir"]
    assert "needs a restart" in p.problems[0].message
    assert p.problems[0].line == 3
