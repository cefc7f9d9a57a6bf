"""The loader's limits, each at its edge: what just fits is read, what passes it is refused."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.check import Check, CheckOptions
from agent.config import parse_config
from agent.config.limits import MAX_DEPTH
from agent.config.report import MAX_ISSUES
from agent.config.secret_inputs import mask_password
from agent.config.text_files import FileRefusedError, read_text_file
from agent.config.yaml_lines import YamlSyntaxError, parse_yaml
from agent.durations import MAX_DURATION, read_duration
from agent.errors import ConfigError
from agent.model import CheckResult
from tests.config.config_support import LoadIssues, LoadText

# -- files the config names ---------------------------------------------------------------


def test_a_regular_file_up_to_the_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert read_text_file(tmp_path / "f", 100) == "x" * 100


@pytest.mark.parametrize(("name", "reason"), [
    ("large", "larger than 100 B"),
    ("missing", "No such file or directory"),
    (".", "Is a directory"),
    ("fifo", "not a regular file (a FIFO)"),
    ("/dev/zero", "not a regular file (a character device)"),
    ("/dev/null", "not a regular file (a character device)"),
    ("nul\0byte", "the path holds a NUL byte"),
])
def test_only_a_small_regular_file_is_read(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "large").write_bytes(b"x" * 101)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FileRefusedError) as caught:
        read_text_file(tmp_path / name, 100)
    assert caught.value.reason == reason


def test_a_fifo_with_a_writer_waiting_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # A writer blocks in open() until a reader comes; the refusal must not depend on it.
    def write() -> None:
        with contextlib.suppress(BrokenPipeError):
            fifo.write_bytes(b"secret")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with pytest.raises(FileRefusedError):
        read_text_file(fifo, 100)
    # Let the writer finish, whether it is still waiting in open() or has written: a
    # reader that never blocks comes and goes until it is done (a blocking one would wait
    # forever for a writer that already left).
    deadline = time.monotonic() + 30
    while writer.is_alive() and time.monotonic() < deadline:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        time.sleep(0.05)
        with contextlib.suppress(BlockingIOError):
            os.read(fd, 100)
        os.close(fd)
    assert not writer.is_alive()


# -- the YAML document --------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth + "\n"


def test_nesting_up_to_the_limit_is_read() -> None:
    assert parse_yaml(_nested(MAX_DEPTH)).problems == []


def test_nesting_past_the_limit_is_refused_at_its_line() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml("a: 1\nb: " + _nested(MAX_DEPTH))  # b's mapping is one level more
    assert (caught.value.line, caught.value.message) == (
        2, f"lists and mappings more than {MAX_DEPTH} deep")


def test_anchors_shared_as_people_use_them_are_read() -> None:
    shared = "defaults: &d {interval: 10s, timeout: 5s, tags: [web, shop, eu], enabled: true}\n"
    checks = "".join(f"  - {{<<: *d, name: c{i}, kind: cpu}}\n" for i in range(300))
    parsed = parse_yaml(shared + "checks:\n" + checks)
    assert parsed.problems == []
    assert parsed.data["checks"][299]["tags"] == ["web", "shop", "eu"]


@pytest.mark.parametrize(("text", "message"), [
    ("a: !!int\n", "cannot read '' as int"),
    ("a: !!timestamp\n", "cannot read '' as timestamp"),
    ("a: !!timestamp 2001-13-45\n", "cannot read '2001-13-45' as timestamp"),
    ("a: 0000-01-01\n", "cannot read '0000-01-01' as timestamp"),
    ("a: !!bool perhaps\n", "cannot read 'perhaps' as bool"),
    ("a: " + "1" * 33 + "\n", "the number 111111111111... (33 digits) is out of range"),
    ("a: 9223372036854775808\n", "the number 9223372036854775808 is out of range"),
    ("a: 1.0e+400\n", "the number 1.0e+400 is out of range"),
    ('a: "x\\0y"\n', "the value holds a NUL byte"),
])
def test_a_scalar_its_tag_cannot_hold_is_a_problem_at_its_line(text: str, message: str) -> None:
    parsed = parse_yaml(text)
    assert [(p.line, p.message.startswith(message)) for p in parsed.problems] == [(1, True)], \
        parsed.problems
    assert parsed.dropped == [("a",)]


@pytest.mark.parametrize("text", ["a: 9223372036854775807\n", "a: -9223372036854775807\n",
                                  "a: .inf\n", "a: 1.5e+300\n", "a: 0x7fffffffffffffff\n"])
def test_numbers_in_range_are_read(text: str) -> None:
    assert parse_yaml(text).problems == []


# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [
    ("30s", 30.0), (90, 90.0), ("3650d", MAX_DURATION), (MAX_DURATION, MAX_DURATION),
])
def test_a_duration_up_to_ten_years_is_read(value: str | float, seconds: float) -> None:
    assert read_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "3651d", 10**20, 10**400, "9" * 310 + "s", float("inf"), float("nan"), "1" * 400 + "w",
])
def test_a_longer_duration_is_out_of_range(value: str | float) -> None:
    with pytest.raises(ValueError, match="out of range \\(at most 3650d\\)"):
        read_duration(value)


@pytest.mark.parametrize(("written", "problem"), [
    ("1000000", None),
    ("1000001", "the sample count 1000001 is out of range (at most 1,000,000)"),
    ("'00000000000000000000003 samples'", None),
    ("'99999999999999999999 samples'", "out of range (at most 1,000,000)"),
    ("3650d", None),
    ("3651d", "the duration 3651d is out of range (at most 3650d)"),
])
def test_for_is_a_count_or_a_duration_within_range(issues: LoadIssues, load: LoadText,
                                                   written: str, problem: str | None) -> None:
    text = f"checks:\n  - kind: fakedisk\n    thresholds:\n      used_percent:\n" \
           f"        warn: 90\n        for: {written}\n"
    if problem is None:
        load(text)
    else:
        found = issues(text)
        assert len(found) == 1 and problem in found[0][2], found


# -- what messages show -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shown"), [
    ("user:secret@proxy:3128", "user:****@proxy:3128"),
    ("http://user:secret@proxy:3128/", "http://user:****@proxy:3128/"),
    ("socks5://u:p@a@h", "socks5://u:****@h"),
    ("ops@example.com", None),
    ("http://proxy:3128", None),
    ("user:@host", None),
])
def test_a_password_is_masked_with_or_without_a_scheme(text: str, shown: str | None) -> None:
    masked = mask_password(text)
    assert (masked[0] if masked else None) == shown


class _ProxyOptions(CheckOptions):
    proxy: SecretStr | None = None
    token: SecretStr | None = None


class _Proxied(Check[_ProxyOptions]):
    kind = "proxied"
    Options = _ProxyOptions

    async def run(self, ctx: object) -> CheckResult:
        return CheckResult.ok("fine")


def _proxied(kind: str) -> type[Check[_ProxyOptions]]:
    return _Proxied


@pytest.mark.parametrize(("option", "hidden", "kept"), [
    ("proxy: [user:hunter22@proxy:3128]", "hunter22", "got a list"),
    ("token: {t: hunter22}", "hunter22", "checks[0].token"),
    ("proxy: user:hunter22@proxy:3128\n    extra: 1", "hunter22", "unknown key 'extra'"),
])
def test_a_refused_secret_option_is_not_quoted(option: str, hidden: str, kept: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"checks:\n  - kind: proxied\n    {option}\n", env={},
                     resolve_kind=_proxied)
    text = "\n".join(str(i) for i in caught.value.issues)
    assert hidden not in text
    assert kept in text


def test_past_the_issue_limit_the_rest_are_counted(issues: LoadIssues) -> None:
    found = issues("".join(f"unknown{i}: 1\n" for i in range(MAX_ISSUES + 50)))
    assert len(found) == MAX_ISSUES + 1
    assert found[-1] == (None, "", "50 more problems, not listed")


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pyyaml"])
@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: " + _nested(500), 1, f"lists and mappings more than {MAX_DEPTH} deep"),
    # Past libyaml's own bound (1,000), which its scanner meets before the composer
    # meets MAX_DEPTH: the same words, not libyaml's.
    ("a: " + _nested(5000), 1, f"lists and mappings more than {MAX_DEPTH} deep"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
     4, "aliases expand the document"),
    ("a: *nope\n", 1, "invalid YAML: found undefined alias 'nope' at column 4"),
    ("a: 1\nb: c: d\n", 2, "invalid YAML: mapping values are not allowed here at column 5"),
])
def test_either_parser_keeps_the_limits_in_the_same_words(
        monkeypatch: pytest.MonkeyPatch, fast: bool, text: str, line: int,
        message: str) -> None:
    if not fast:
        monkeypatch.setattr("agent.config.yaml_compose._FAST_LOADER", None)
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text)
    assert caught.value.line == line
    assert caught.value.message.startswith(message)


def test_a_file_of_brackets_is_refused_in_bounded_time() -> None:
    # 400 KB of "[": PyYAML's own parser, asked for its words after libyaml refused the
    # text, took minutes on this (568 s and counting for 1 MB).
    started = time.monotonic()
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml("a: " + _nested(200_000))
    assert caught.value.message == f"lists and mappings more than {MAX_DEPTH} deep"
    assert time.monotonic() - started < 5
