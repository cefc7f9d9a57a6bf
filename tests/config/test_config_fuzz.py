"""Fuzzing the loader: whatever the text, the outcome is a Config or a ConfigError.

Three kinds of input: text from YAML's punctuation and odd characters, documents of the
real sections holding random values (huge and non-finite numbers, long and NUL-holding
text, references), and the example config with random edits. Any other exception would
be a traceback in front of a user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.check import load_kind
from agent.config import Config, parse_config
from agent.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "config.example.yaml").read_text(encoding="utf-8")

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_PUNCTUATION = [*"[]{}:,-&*!|>'\"#%@`?\n \t.$\\~=<", "${", "${file:", "<<: ", "*a", "&a "]
_WORDS = ["agent", "checks", "channels", "routes", "defaults", "kind", "cpu", "http", "disk",
          "thresholds", "warn", "for", "interval", "timeout", "state_dir", "host", "url",
          "proxy", "log://", "9" * 40, "1e999", ".inf", ".nan", "0x", "!!int", "!!float",
          "!!timestamp", "!!binary", "\\0", "\\ud800"]

_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["30s", "5m", "9" * 320 + "s", "> 90", "< 5%", "${NOPE}", "${A:-x}",
                     "${file:/dev/zero}", "${file:}", "/tmp/x\0y", "user:pw@host:1",
                     "http://127.0.0.1:9/", "log://", "h" * 300]),
)
_KEYS = st.one_of(st.sampled_from(["kind", "name", "interval", "timeout", "thresholds",
                                   "warn", "crit", "for", "recover", "url", "proxy", "host",
                                   "state_dir", "max_body", "adaptive", "forecast", "limit",
                                   "repeat_interval", "channels", "urls", "group_wait"]),
                  st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=25)


def _outcome(text: str, tmp_path: Path) -> Config | list[ConfigIssue]:
    try:
        return parse_config(text, source="fuzz.yaml", env={"A": "a"}, resolve_kind=load_kind,
                            base_dir=tmp_path)
    except ConfigError as e:
        assert all(isinstance(i, ConfigIssue) and i.file == "fuzz.yaml" for i in e.issues)
        assert e.issues, "a ConfigError says what is wrong"
        return e.issues


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(_PUNCTUATION), st.sampled_from(_WORDS),
                          st.characters()), max_size=120).map("".join))
def test_any_text_is_a_config_or_a_config_error(tmp_path_factory: Any, text: str) -> None:
    _outcome(text, tmp_path_factory.mktemp("fuzz"))


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except (yaml.YAMLError, UnicodeEncodeError):
        return yaml.safe_dump(repr(data))


@FUZZ
@given(st.fixed_dictionaries({}, optional={
    "agent": st.dictionaries(_KEYS, _VALUES, max_size=5),
    "defaults": _VALUES,
    "channels": st.dictionaries(st.text(max_size=8), _VALUES, max_size=3),
    "routes": st.lists(_VALUES, max_size=3),
    "checks": st.lists(st.fixed_dictionaries(
        {"kind": st.sampled_from(["cpu", "disk", "http", "tcp", "command", "heartbeat"])},
        optional={k: _VALUES for k in ("name", "interval", "timeout", "thresholds", "url",
                                       "proxy", "max_body", "path", "command", "port")}),
        max_size=3),
}))
def test_any_values_in_the_real_sections_are_a_config_or_a_config_error(
        tmp_path_factory: Any, data: dict[str, Any]) -> None:
    _outcome(_dump(data), tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(EXAMPLE)),
                          st.integers(min_value=0, max_value=8),
                          st.one_of(st.sampled_from(_PUNCTUATION), st.sampled_from(_WORDS),
                                    st.text(max_size=4))), max_size=6))
def test_the_example_edited_at_random_is_a_config_or_a_config_error(
        tmp_path_factory: Any, edits: list[tuple[int, int, str]]) -> None:
    text = EXAMPLE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    _outcome(text, tmp_path_factory.mktemp("fuzz"))
