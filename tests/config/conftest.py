"""Helpers to load config text through the real loader with the fake kinds."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from agent.config import Config, load_config
from agent.errors import ConfigError, ConfigIssue
from tests.config.config_support import LoadIssues, LoadText, Triple, resolve_fake


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write dedented YAML text to a file and return its path."""
    def write(text: str) -> Path:
        path = tmp_path / "watchkeeper.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return write


@pytest.fixture
def load(config_file: Callable[[str], Path]) -> LoadText:
    """Load YAML text with the fake kinds; fails the test on a ConfigError."""
    def run(text: str, env: Mapping[str, str] | None = None) -> Config:
        return load_config(config_file(text), env=env or {}, resolve_kind=resolve_fake)
    return run


@pytest.fixture
def issues(config_file: Callable[[str], Path]) -> LoadIssues:
    """Load YAML text that must be invalid; return the issues as (line, path, message)."""
    def run(text: str, env: Mapping[str, str] | None = None) -> list[Triple]:
        path = config_file(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path, env=env or {}, resolve_kind=resolve_fake)
        found: list[ConfigIssue] = caught.value.issues
        assert all(i.file == str(path) for i in found)
        return [(i.line, i.path, i.message) for i in found]
    return run
