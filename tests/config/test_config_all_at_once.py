"""Every problem of a config file in one run, each once, each with file:line.

Apprise's verdict on the URLs, unknown route names, thresholds on metrics the kind does
not report and plain schema mistakes all come from the same pass: a user fixes the file
once, not once per stage.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.check import load_kind
from agent.config import load_config
from agent.config.full import check_channel_urls
from agent.config.loader import parse_config
from agent.errors import ConfigError, ConfigIssue
from agent.notify.masking import UrlForm
from agent.notify.protocol import UrlVerdict
from tests.config.config_support import resolve_fake

REPO = Path(__file__).resolve().parents[2]

BROKEN = """\
agent:
  interval: soon
  max_concurrency: 0
chanels: {}
channels:
  ops:
    - json://user:Hunter2Pass@127.0.0.1:8080/hook?method=BREW
    - log://
  pager:
    urls:
      - pagerduty://OnlyOneRoutingKey
    group_wait: 1h
routes:
  - channels: [ops, nosuch]
    severity: [fatal]
checks:
  - name: cpu
    kind: cpu
    timeout: forever
    thresholds:
      used_bytes: {warn: "> 5"}
  - kind: dsik
  - name: web
    kind: http
    url: http://127.0.0.1:1/
    thresholds:
      response_ms: {warn: "> 500", crit: "< 100"}
  - name: cpu
    kind: memory
"""

#: (text on the line, dotted path, a piece of the message): every problem of BROKEN.
EXPECTED = [
    ("interval: soon", "agent.interval", "expected a duration like 30s"),
    ("max_concurrency: 0", "agent.max_concurrency", "must be at least 1"),
    ("chanels:", "chanels", "did you mean 'channels'?"),
    ("method=BREW", "channels.ops[0]",
     "Apprise cannot use json://user:****@127.0.0.1:8080/hook?method=BREW: "),
    ("pagerduty://", "channels.pager.urls[0]", "Apprise cannot use pagerduty://****: "),
    ("group_wait: 1h", "channels.pager.group_wait", "must be at most 10m"),
    ("[ops, nosuch]", "routes[0].channels[1]", "unknown channel 'nosuch'"),
    ("severity: [fatal]", "routes[0].severity", "expected warning, critical or unknown"),
    ("timeout: forever", "checks[0].timeout", "expected a duration like 30s"),
    ("used_bytes:", "checks[0].thresholds.used_bytes", "unknown metric 'used_bytes'"),
    ("kind: dsik", "checks[1].kind", "did you mean 'disk'?"),
    ("crit: \"< 100\"", "checks[2].thresholds.response_ms", "point in opposite directions"),
    ("  - name: cpu\n    kind: memory", "checks[3].name", "duplicate check name 'cpu'"),
]


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def _expected(source: str) -> list[tuple[str, int, str, str]]:
    return [(source, _line_of(BROKEN, needle), path, piece) for needle, path, piece in EXPECTED]


def _assert_each_once(found: Sequence[ConfigIssue], source: str) -> None:
    expected = _expected(source)
    unmatched = list(found)
    for file, line, path, piece in expected:
        hits = [i for i in unmatched
                if (i.file, i.line, i.path) == (file, line, path) and piece in i.message]
        assert len(hits) == 1, (line, path, piece, [str(i) for i in found])
        unmatched.remove(hits[0])
    assert not unmatched, [str(i) for i in unmatched]


def test_the_loader_reports_every_problem_in_one_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=load_kind, judge_urls=check_channel_urls)
    _assert_each_once(caught.value.issues, str(path))
    assert "Hunter2Pass" not in str(caught.value)
    assert "OnlyOneRoutingKey" not in str(caught.value)


@pytest.mark.slow
def test_validate_reports_every_problem_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    out = subprocess.run([sys.executable, "-m", "agent", "validate", "-c", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    assert f"invalid configuration ({len(EXPECTED)} problems):" in out.stderr
    issues = []
    for line in out.stderr.splitlines()[1:]:
        m = re.fullmatch(r"  (.+?):(\d+): (\S+): (.*)", line)
        assert m, line
        issues.append(ConfigIssue(m[1], int(m[2]), m[3], m[4]))
    _assert_each_once(issues, str(path))
    assert "Hunter2Pass" not in out.stderr and "OnlyOneRoutingKey" not in out.stderr
    assert "Traceback" not in out.stderr


class _Judge:
    """Refuses every URL whose text contains "bad"; remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, urls: Sequence[str]) -> list[UrlVerdict]:
        self.asked.append(list(urls))
        return [UrlVerdict("refused" if "bad" in u else None, UrlForm(f"shown-{i}"))
                for i, u in enumerate(urls)]


def test_urls_are_judged_once_all_together_even_beside_other_problems() -> None:
    judge = _Judge()
    text = ("channels:\n"
            "  a: ['json://bad.example.com/1', 'log://']\n"
            "  b: {urls: ['bad://x', 'no url'], group_wait: 1h}\n"
            "  c: ['json://${MISSING}@h.example.com/']\n"
            "checks:\n  - kind: fakedisk\n    interval: never\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={}, resolve_kind=resolve_fake, judge_urls=judge)
    # One question, every URL of the right shape (not the one whose ${...} failed, nor the
    # bare log://, judged without Apprise).
    assert judge.asked == [["json://bad.example.com/1", "bad://x"]]
    found = [(i.line, i.path, i.message) for i in caught.value.issues]
    assert (2, "channels.a[0]", "Apprise cannot use shown-0: refused") in found
    assert (3, "channels.b.urls[0]", "Apprise cannot use shown-1: refused") in found
    assert (3, "channels.b.group_wait",
            "must be at most 10m, got 1h (it holds back the first alert of a storm)") in found
    assert len(found) == 6, found


def test_a_valid_config_keeps_each_urls_form() -> None:
    config = parse_config("channels:\n  a: ['json://h.example.com/x', 'log://']\n",
                          env={}, resolve_kind=resolve_fake, judge_urls=_Judge())
    assert config.url_forms == {"json://h.example.com/x": UrlForm("shown-0"),
                                "log://": UrlForm("log://")}


def test_the_bare_log_target_needs_no_apprise_and_anything_after_it_is_asked() -> None:
    judge = _Judge()
    config = parse_config("channels:\n  a: ['log://', ' LOG:// ']\n",
                          env={}, resolve_kind=resolve_fake, judge_urls=judge)
    assert judge.asked == []
    assert config.url_forms == {"log://": UrlForm("log://"), "LOG://": UrlForm("LOG://")}
    parse_config("channels:\n  a: ['log://', 'log://x', 'log:///']\n",
                 env={}, resolve_kind=resolve_fake, judge_urls=judge)
    assert judge.asked == [["log://x", "log:///"]]


def test_without_a_judge_no_url_is_judged() -> None:
    config = parse_config("channels:\n  a: ['bad://x']\n", env={}, resolve_kind=resolve_fake)
    assert config.url_forms == {}


@pytest.mark.parametrize(("options", "expected"), [
    # Field errors no longer hide the model's checks of the whole (pydantic skips those
    # while a field is invalid).
    ("listen: 0.0.0.0:9110\n  interval: soon",
     ["agent: listen 0.0.0.0:9110 is reachable from other hosts", "agent.interval"]),
    # ...but not where the check would be about a field in error.
    ("listen: 0.0.0.0:9110\n  token: ''", ["agent.token"]),
])
def test_whole_model_checks_run_beside_field_errors(options: str,
                                                    expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"agent:\n  {options}\n", env={}, resolve_kind=resolve_fake)
    found = [f"{i.path}: {i.message}" for i in caught.value.issues]
    assert len(found) == len(expected), found
    for piece, text in zip(expected, found, strict=True):
        assert text.startswith(piece), found
