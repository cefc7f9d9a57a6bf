"""The loader end to end: YAML file -> Config, or every issue with its line and path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.alerting.policy import Persistence
from agent.check import Check, available_kinds, load_kind
from agent.config import load_config, parse_config
from agent.errors import ConfigError
from agent.model import Status
from agent.thresholds.rules import Op
from tests.config.config_support import FakeDiskOptions, LoadIssues, LoadText, resolve_fake

EXAMPLE = """
agent:
  host: web1
  state_dir: /var/lib/watchkeeper
  interval: 1m
  timeout: 10s
  max_concurrency: 16
  listen: 127.0.0.1:9110
defaults:
  repeat_interval: 4h
channels:
  ops: [log://]
  pager: {urls: ["pagerduty://${PD_KEY}@example"]}
routes:
  - {channels: [pager], severity: [critical]}
  - {channels: [ops]}
checks:
  - name: root-disk
    kind: fakedisk
    interval: 5m
    timeout: 10s
    tags: [infra]
    enabled: true
    repeat_interval: 1h
    send_resolved: false
    thresholds:
      used_percent: {warn: "> 80", crit: "> 90", for: 5m, recover: "< 75", recover_for: 2m}
      status: {for: 3}
    path: /
  - kind: fakedisk
    path: /var
"""


def test_full_example_loads_into_typed_config(load: LoadText) -> None:
    config = load(EXAMPLE, env={"PD_KEY": "abc123"})

    assert config.agent.host == "web1"
    assert config.agent.interval == 60.0
    assert config.agent.listen == "127.0.0.1:9110"
    assert config.defaults.repeat_interval == 4 * 3600
    assert config.channels["ops"].urls == ("log://",)
    assert config.channels["pager"].urls == ("pagerduty://abc123@example",)
    assert config.routes[0].severity == (Status.CRITICAL,)
    assert config.routes[1].channels == ("ops",)
    root = config.check("root-disk")
    assert root is not None
    assert (root.kind, root.interval, root.timeout, root.tags) == ("fakedisk", 300.0, 10.0,
                                                                   ("infra",))
    assert (root.policy.repeat_interval, root.policy.send_resolved) == (3600.0, False)
    assert root.options == FakeDiskOptions(path="/")
    rule = root.thresholds["used_percent"]
    assert rule.warn is not None and (rule.warn.op, rule.warn.limit) == (Op.GT, 80.0)
    assert rule.crit is not None and rule.crit.limit == 90.0
    assert rule.recover is not None and (rule.recover.op, rule.recover.limit) == (Op.LT, 75.0)
    assert (rule.fire_after, rule.recover_after) == (Persistence(seconds=300),
                                                     Persistence(seconds=120))
    assert root.thresholds["status"].fire_after == Persistence(samples=3)


def test_a_check_without_name_takes_the_agent_and_policy_defaults(load: LoadText) -> None:
    config = load("""
        agent: {interval: 2m, timeout: 7s}
        defaults: {repeat_interval: 0, send_resolved: false}
        checks:
          - kind: fakedisk
    """)
    (check,) = config.checks
    assert (check.name, check.interval, check.timeout, check.enabled) == (
        "fakedisk", 120.0, 7.0, True)
    assert (check.policy.repeat_interval, check.policy.send_resolved) == (0.0, False)


def test_checks_without_channels_are_valid(load: LoadText) -> None:
    config = load("checks:\n  - kind: fakedisk\n")
    assert config.channels == {}
    assert config.routes == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\nb: c: d\n",
     (2, "", "invalid YAML: mapping values are not allowed here at column 5")),
    ("checks:\n  - kind: x\n  name: y\n",
     (3, "", "invalid YAML: expected <block end>, but found '?' at column 3 "
             "(while parsing a block collection from line 2)")),
    ('agent: {host: "web1\n',
     (2, "", "invalid YAML: found unexpected end of stream at column 1 "
             "(while scanning a quoted scalar from line 1)")),
    ("agent: 1\n---\nchecks: []\n",
     (2, "", "invalid YAML: expected a single document in the stream, "
             "but found another document at column 1")),
    ("agent:\n\thost: x\n",
     (2, "", "invalid YAML: found character '\\t' that cannot start any token at column 1")),
])
def test_malformed_yaml_is_one_issue_with_line_and_column(
        issues: LoadIssues, text: str, expected: tuple[int, str, str]) -> None:
    assert issues(text) == [expected]


def test_unknown_top_key_suggests_the_close_one(issues: LoadIssues) -> None:
    assert issues("chekcs: []\nfoo: 1\n") == [
        (1, "chekcs", "unknown key 'chekcs'; did you mean 'checks'?"),
        (2, "foo", "unknown key 'foo' (allowed: agent, channels, checks, defaults, "
                   "maintenance, routes)"),
    ]


def test_unknown_check_kind_suggests_and_lists_installed(issues: LoadIssues) -> None:
    assert issues("checks:\n  - kind: fakedsik\n  - kind: zzz\n") == [
        (2, "checks[0].kind", "unknown check kind 'fakedsik'; did you mean 'fakedisk'? "
                              "(installed: cpu, fakedisk, fakeprobe, http)"),
        (3, "checks[1].kind", "unknown check kind 'zzz' "
                              "(installed: cpu, fakedisk, fakeprobe, http)"),
    ]


def test_unknown_kind_through_the_installed_entry_points(config_file: Callable[[str], Path]
                                                         ) -> None:
    path = config_file("checks:\n  - kind: dsik\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=load_kind)
    (issue,) = caught.value.issues
    assert issue.message == ("unknown check kind 'dsik'; did you mean 'disk'? "
                             f"(installed: {', '.join(available_kinds())})")


def test_a_kind_that_fails_to_import_is_an_issue(config_file: Callable[[str], Path]) -> None:
    def broken(kind: str) -> type[Check[Any]]:
        raise ModuleNotFoundError("No module named 'checks.fancy'")

    path = config_file("checks:\n  - kind: fancy\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=broken)
    assert [(i.line, i.path, i.message) for i in caught.value.issues] == [
        (2, "checks[0].kind", "check kind 'fancy' cannot be loaded: No module named "
                              "'checks.fancy'")]


def test_only_the_named_kinds_are_resolved(config_file: Callable[[str], Path]) -> None:
    asked: list[str] = []

    def spy(kind: str) -> type[Check[Any]]:
        asked.append(kind)
        return resolve_fake(kind)

    path = config_file("checks:\n  - kind: fakedisk\n  - {kind: fakedisk, name: b}\n")
    load_config(path, env={}, resolve_kind=spy)
    assert asked == ["fakedisk"]


@pytest.mark.parametrize(("text", "expected"), [
    ("agent: {interval: soon}",
     (1, "agent.interval", "expected a duration like 30s, 5m, 4h or 1d, got 'soon'")),
    ('agent: {max_concurrency: "x"}',
     (1, "agent.max_concurrency", "expected an integer, got 'x'")),
    ("agent: {max_concurrency: 0}",
     (1, "agent.max_concurrency", "must be at least 1, got 0")),
    ("agent: {interval: 0s}", (1, "agent.interval", "must be longer than 0s")),
    ("agent: {log_level: loud}",
     (1, "agent.log_level", "must be one of debug, info, warning, error")),
    ("agent: {listen: [1]}", (1, "agent.listen", "expected text, got a list")),
    ('agent: {listen: "127.0.0.1:9110", public_url: "ftp://x"}',
     (1, "agent.public_url", "must be an http:// or https:// URL with a host, as people "
                             "reach the listener (https://mon.example.com:9110)")),
    ('agent: {listen: "127.0.0.1:9110", public_url: "https://u:p@mon.example.com"}',
     (1, "agent.public_url", "must be a plain base URL: no query, fragment or credentials")),
    ('agent: {public_url: "https://mon.example.com"}',
     (1, "agent.public_url", "needs agent.listen: the listener answers the acknowledgement "
                             "links it puts in messages")),
    ("agent: {group_window: 1h}",
     (1, "agent.group_window", "must be at most 10m, got 1h (it holds back the first alert "
                               "of the host)")),
    ("agent: {group_window: soon}",
     (1, "agent.group_window", "expected a duration like 30s, 5m, 4h or 1d, got 'soon'")),
    ("agent: {interval: }",
     (1, "agent.interval", "expected a duration like 30s, 5m, 4h or 1d, got an empty value")),
    ("defaults: {send_resolved: maybe}",
     (1, "defaults.send_resolved", "expected true or false, got 'maybe'")),
    ("defaults: {repeat: 1h}",
     (1, "defaults.repeat", "unknown key 'repeat'; did you mean 'repeat_interval'?")),
    ("agent: [1]", (1, "agent", "expected a mapping, got a list")),
    ("checks: {kind: fakedisk}", (1, "checks", "expected a list of checks, got a mapping")),
    ("checks:\n  - {kind: fakedisk, interval: 0}",
     (2, "checks[0].interval", "must be longer than 0s")),
    ("checks:\n  - {kind: fakedisk, tags: infra}",
     (2, "checks[0].tags", "expected a list, got 'infra'")),
    ('checks:\n  - {kind: fakedisk, name: ""}', (2, "checks[0].name", "must not be empty")),
    ("checks:\n  - {name: x}", (2, "checks[0]", "missing required key 'kind'")),
    ("checks:\n  - fakedisk",
     (2, "checks[0]", "expected a mapping with kind and options, got 'fakedisk'")),
])
def test_wrong_values_are_reported_in_plain_words(
        issues: LoadIssues, text: str, expected: tuple[int, str, str]) -> None:
    assert issues(text) == [expected]


@pytest.mark.parametrize(("check", "expected"), [
    ("{kind: fakedisk, pth: /}",
     ("checks[0].pth", "unknown key 'pth'; did you mean 'path'?")),
    ("{kind: fakedisk, treshold: {}}",
     ("checks[0].treshold", "unknown key 'treshold'; did you mean 'thresholds'?")),
    ("{kind: fakedisk, min_free: lots}",
     ("checks[0].min_free", "expected an integer, got 'lots'")),
    ("{kind: fakeprobe}", ("checks[0]", "missing required key 'url'")),
    ("{kind: fakeprobe, url: x, expect: ok}",
     ("checks[0].expect", "expected an integer or a list, got 'ok'")),
    ("{kind: fakeprobe, url: x, headers: {Accept: 1}}",
     ("checks[0].headers.Accept", "expected text, got 1")),
    ("{kind: fakeprobe, url: x, tls: {verfy: false}}",
     ("checks[0].tls.verfy", "unknown key 'verfy'; did you mean 'verify'?")),
    ("{kind: fakeprobe, url: x, tls: {verify: sometimes}}",
     ("checks[0].tls.verify", "expected true or false, got 'sometimes'")),
])
def test_a_kinds_options_are_validated_by_its_model(
        issues: LoadIssues, check: str, expected: tuple[str, str]) -> None:
    assert issues(f"checks:\n  - {check}\n") == [(2, *expected)]


def test_the_real_disk_kind_options_and_metrics(config_file: Callable[[str], Path]) -> None:
    pytest.importorskip("checks.disk")
    path = config_file("""
        checks:
          - kind: disk
            pth: /
            tresholds: {}
          - kind: disk
            name: root
            path: /
            thresholds:
              used_precent: {warn: 80}
    """)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=load_kind)
    assert [(i.line, i.path, i.message) for i in caught.value.issues] == [
        (3, "checks[0].pth", "unknown key 'pth'; did you mean 'path'?"),
        (4, "checks[0].tresholds", "unknown key 'tresholds'; did you mean 'thresholds'?"),
        (9, "checks[1].thresholds.used_precent",
         "unknown metric 'used_precent'; did you mean 'used_percent'?"),
    ]


def test_duplicate_check_names_are_errors(issues: LoadIssues) -> None:
    assert issues("""
        checks:
          - {name: a, kind: fakedisk}
          - {name: a, kind: fakedisk}
          - kind: fakedisk
          - kind: fakedisk
    """) == [
        (3, "checks[1].name", "duplicate check name 'a' (first at line 2)"),
        (5, "checks[3]", "duplicate check name 'fakedisk' (first at line 4); the name "
                         "defaults to the kind, so give each of these checks a name"),
    ]


def test_duplicate_keys_in_a_mapping_are_errors(issues: LoadIssues) -> None:
    assert issues("agent:\n  interval: 1m\n  interval: 2m\n") == [
        (3, "agent.interval", "duplicate key 'interval' (first at line 2)")]


@pytest.mark.parametrize(("text", "expected"), [
    ("channels: {pager: [log://]}\nroutes:\n  - {channels: [pagr]}",
     (3, "routes[0].channels[0]", "route names unknown channel 'pagr'; did you mean 'pager'?")),
    ("channels: {ops: [log://]}\nroutes:\n  - {channels: [zzz]}",
     (3, "routes[0].channels[0]", "route names unknown channel 'zzz' (defined: ops)")),
    ("routes:\n  - {channels: [ops]}",
     (2, "routes[0].channels[0]", "route names unknown channel 'ops' (no channels are "
                                  "defined)")),
    ("channels: {ops: [log://]}\nchecks: [{kind: fakedisk, name: web}]\n"
     "routes:\n  - {channels: [ops], checks: [wbe]}",
     (4, "routes[0].checks[0]", "route names unknown check 'wbe'; did you mean 'web'?")),
    ("channels: {ops: [log://]}\nroutes:\n  - {channels: [ops], severity: [ok]}",
     (3, "routes[0].severity", "severity ok never alerts; use warning, critical, unknown")),
    ("channels: {ops: [log://]}\nroutes:\n  - {channels: [ops], sevrity: [critical]}",
     (3, "routes[0].sevrity", "unknown key 'sevrity'; did you mean 'severity'?")),
    ("channels: {ops: [log://]}\nroutes:\n  - {channels: []}",
     (3, "routes[0].channels", "must not be empty")),
])
def test_routes_must_name_existing_channels_and_checks(
        issues: LoadIssues, text: str, expected: tuple[int, str, str]) -> None:
    assert issues(text) == [expected]


@pytest.mark.parametrize(("text", "expected"), [
    ("channels:\n  ops: []", (2, "channels.ops", "a channel needs at least one Apprise URL")),
    ("channels:\n  ops: {urls: []}",
     (2, "channels.ops.urls", "a channel needs at least one Apprise URL")),
    ("channels:\n  ops: {url: [log://]}",
     (2, "channels.ops.url", "unknown key 'url'; did you mean 'urls'?")),
    ("channels:\n  ops: {}", (2, "channels.ops", "missing required key 'urls'")),
    ("channels:\n  ops:\n    - log://\n    - not a url",
     (4, "channels.ops[1]", "expected an Apprise URL like 'scheme://...'")),
    ("channels:\n  ops: 5", (2, "channels.ops", "expected a list of Apprise URLs, got 5")),
    ("channels: [log://]",
     (1, "channels", "expected a mapping of channel names to Apprise URLs, got a list")),
])
def test_channels_need_urls_of_the_right_shape(
        issues: LoadIssues, text: str, expected: tuple[int, str, str]) -> None:
    assert issues(text) == [expected]


def test_a_channel_may_be_a_single_url(load: LoadText) -> None:
    assert load("channels:\n  ops: log://\n").channels["ops"].urls == ("log://",)


def test_several_errors_are_reported_together_each_with_its_line(issues: LoadIssues) -> None:
    assert issues("""
        agent:
          interval: soon
          max_concurrency: "x"
        channels:
          pager: [log://]
        routes:
          - {channels: [pagr]}
        checks:
          - name: root
            kind: fakedisk
            thresholds:
              used_percent: {warn: "> 90", crit: "> 80"}
          - kind: fakedsk
        chekcs: []
    """) == [
        (2, "agent.interval", "expected a duration like 30s, 5m, 4h or 1d, got 'soon'"),
        (3, "agent.max_concurrency", "expected an integer, got 'x'"),
        (7, "routes[0].channels[0]", "route names unknown channel 'pagr'; did you mean "
                                     "'pager'?"),
        (12, "checks[0].thresholds.used_percent.crit",
         "crit (> 80) must be at or above warn (> 90)"),
        (13, "checks[1].kind", "unknown check kind 'fakedsk'; did you mean 'fakedisk'? "
                               "(installed: cpu, fakedisk, fakeprobe, http)"),
        (14, "chekcs", "unknown key 'chekcs'; did you mean 'checks'?"),
    ]


def test_config_error_text_has_file_line_and_path(config_file: Callable[[str], Path]) -> None:
    path = config_file("agent:\n  interval: soon\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=resolve_fake)
    assert str(caught.value) == (f"{path}:2: agent.interval: expected a duration like 30s, "
                                 "5m, 4h or 1d, got 'soon'")


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("agent: {host: '${HOST_NAME}'}", {},
     (1, "agent.host", "environment variable 'HOST_NAME' is not set")),
    ("channels:\n  ops: ['${file:/nonexistent/watchkeeper/token}']", {},
     (2, "channels.ops[0]",
      "cannot read secret file '/nonexistent/watchkeeper/token': No such file or directory")),
    ("agent: {interval: '${WHEN}'}", {"WHEN": "sooner-or-later"},
     (1, "agent.interval",
      "expected a duration like 30s, 5m, 4h or 1d, got (value from ${WHEN})")),
    ("agent: {max_concurrency: '${N}'}", {"N": "hunter2"},
     (1, "agent.max_concurrency", "expected an integer, got (value from ${N})")),
    ("channels:\n  ops: ['${URL}']", {"URL": "tgram-no-scheme-secret-token"},
     (2, "channels.ops[0]", "expected an Apprise URL like 'scheme://...'")),
    ("checks:\n  - {kind: fakedisk, thresholds: {used_percent: {warn: '${W}'}}}",
     {"W": "~ 12345secret"},
     (2, "checks[0].thresholds.used_percent.warn",
      'expected a threshold like "> 90" or "< 5%", got (value from ${W})')),
    ("checks:\n  - {kind: '${KIND}'}", {"KIND": "secretkind"},
     (2, "checks[0].kind", "unknown check kind (value from ${KIND}) "
                           "(installed: cpu, fakedisk, fakeprobe, http)")),
])
def test_substitution_problems_name_the_source_never_the_value(
        issues: LoadIssues, text: str, env: dict[str, str],
        expected: tuple[int, str, str]) -> None:
    found = issues(text, env=env)
    assert found == [expected]
    for value in env.values():
        assert all(value not in message for _, _, message in found)


def test_substituted_values_reach_the_config(load: LoadText, tmp_path: Path) -> None:
    (tmp_path / "pd.key").write_text("s3cret\n", encoding="utf-8")
    config = load("""
        agent: {host: "${HOST:-fallback}", max_concurrency: "${CONC}"}
        channels:
          pager: ["pagerduty://${file:pd.key}@x", "json://host/$${literal}"]
    """, env={"CONC": "4"})
    assert (config.agent.host, config.agent.max_concurrency) == ("fallback", 4)
    assert config.channels["pager"].urls == ("pagerduty://s3cret@x", "json://host/${literal}")


@pytest.mark.parametrize(("content", "message"), [
    ("", "the file is empty; expected sections like agent, channels and checks"),
    ("# only a comment\n", "the file is empty; expected sections like agent, channels and "
                           "checks"),
    ("- a\n- b\n", "expected a mapping of sections (agent, defaults, channels, routes, "
                   "checks) at the top level"),
])
def test_an_empty_or_non_mapping_file_is_one_issue(
        issues: LoadIssues, content: str, message: str) -> None:
    (issue,) = issues(content)
    assert issue[1:] == ("", message)


def test_a_missing_file_is_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert [str(i) for i in caught.value.issues] == [
        f"{path}: cannot read the config file: No such file or directory"]


def test_a_directory_or_binary_file_is_one_issue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={})
    assert [i.message for i in caught.value.issues] == [
        "cannot read the config file: Is a directory"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00agent")
    with pytest.raises(ConfigError) as caught:
        load_config(binary, env={})
    assert [i.message for i in caught.value.issues] == ["the config file is not UTF-8 text"]


def test_environment_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv("WK_TEST_HOST", "from-env")
    config = parse_config("agent: {host: '${WK_TEST_HOST}'}", resolve_kind=resolve_fake)
    assert config.agent.host == os.environ["WK_TEST_HOST"]


def test_the_shipped_example_config_loads_with_the_installed_kinds() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    if not example.exists():
        pytest.skip("no config.example.yaml in this tree")
    config = load_config(example, env={})
    assert config.checks
    assert all(check.kind in available_kinds() for check in config.checks)
