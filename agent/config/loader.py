"""YAML file -> validated ``Config``, or ConfigError carrying every issue found.

Each issue names the file, the line and the dotted path (``checks[3].thresholds...``).
The steps: parse keeping line numbers, substitute ``${...}``, validate each section,
cross-check names (routes -> channels and checks), ask ``judge_urls`` (Apprise, when the
caller gives it) about every channel URL, then build the Config. Every step runs whatever
the earlier ones found, so all the problems of a file come back in one ConfigError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.check import load_kind
from agent.config.channels_section import parse_channels, parse_routes
from agent.config.checks_section import KindResolver, parse_checks
from agent.config.interpolate import interpolate_tree
from agent.config.limits import MAX_CONFIG_BYTES
from agent.config.maintenance_section import parse_maintenance
from agent.config.models import AgentSettings, AlertPolicy, Config
from agent.config.report import ModelT, Reporter
from agent.config.suggest import unknown_key
from agent.config.text_files import FileRefusedError, read_text_file
from agent.config.yaml_lines import YamlPath, YamlSyntaxError, parse_yaml
from agent.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from agent.notify.masking import UrlForm
    from agent.notify.protocol import UrlVerdict

TOP_KEYS = ("agent", "defaults", "channels", "routes", "checks", "maintenance")

#: Judges notification URLs (Apprise's verdicts, asked of its child process), in order.
UrlJudge = Callable[[Sequence[str]], Sequence["UrlVerdict"]]

__all__ = ["TOP_KEYS", "KindResolver", "UrlJudge", "load_config", "parse_config"]


def load_config(path: Path, env: Mapping[str, str] | None = None,
                resolve_kind: KindResolver = load_kind,
                judge_urls: UrlJudge | None = None) -> Config:
    """Read, substitute and validate the config file at ``path``.

    ``env`` replaces ``os.environ`` for ``${VAR}``; ``resolve_kind`` turns a check kind
    name into its class (tests pass their own); ``judge_urls``, when given, is asked once
    about all channel URLs. Raises ConfigError with every issue.
    """
    source = str(path)
    try:
        text = read_text_file(path, MAX_CONFIG_BYTES)
    except FileRefusedError as e:
        raise _single(source, f"cannot read the config file: {e.reason}") from None
    except UnicodeDecodeError:
        raise _single(source, "the config file is not UTF-8 text") from None
    return parse_config(text, source=source, env=env, resolve_kind=resolve_kind,
                        base_dir=path.parent, judge_urls=judge_urls)


def parse_config(text: str, *, source: str = "<config>", env: Mapping[str, str] | None = None,
                 resolve_kind: KindResolver = load_kind,
                 base_dir: Path | None = None, judge_urls: UrlJudge | None = None) -> Config:
    """Validate config text; ``source`` names it in issues, ``base_dir`` anchors
    relative ``${file:...}`` paths (default: the working directory)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise _single(source, f"the config is longer than {MAX_CONFIG_BYTES:,} characters")
    try:
        parsed = parse_yaml(text)
    except YamlSyntaxError as e:
        raise ConfigError([ConfigIssue(source, e.line, "", e.message)]) from None
    if parsed.data is None:
        raise _single(source, "the file is empty; expected sections like agent, channels "
                              "and checks")
    if not isinstance(parsed.data, dict):
        raise _single(source, "expected a mapping of sections (agent, defaults, channels, "
                              "routes, checks) at the top level", line=parsed.lines.line_of(()))

    tree = interpolate_tree(parsed.data, os.environ if env is None else env,
                            base_dir if base_dir is not None else Path.cwd())
    secrets = {p: v for p in tree.sources if isinstance(v := _value_at(tree.data, p), str)}
    report = Reporter(source, parsed.lines, tree.sources, secrets)
    for problem in parsed.problems:
        report.add(problem.path, problem.message, problem.line)
    for where in parsed.dropped:
        report.mute(where)  # it stands as None: judging it would only repeat the issue
    for where, message in tree.problems:
        report.add(where, message)
    for where, _ in tree.problems:
        report.mute(where)  # its value is the raw "${...}": judging it would repeat the issue

    data: dict[str, Any] = tree.data
    for key in data:
        if key not in TOP_KEYS:
            report.add((key,), unknown_key(key, TOP_KEYS))

    agent = _section(AgentSettings, data, "agent", report)
    defaults = _section(AlertPolicy, data, "defaults", report)
    channels = parse_channels(data.get("channels"), report)
    checks = parse_checks(data.get("checks"), agent or AgentSettings(),
                          defaults or AlertPolicy(), resolve_kind, report)
    routes = parse_routes(data.get("routes"), channels.names, checks.names, report)
    windows = parse_maintenance(data.get("maintenance"), checks.names, report)
    if agent is not None and agent.connectivity is not None and \
            agent.connectivity not in checks.names:
        report.add(("agent", "connectivity"), f"no check is named {agent.connectivity!r} "
                                              "(it names the check of this host's network)")
    if agent is not None and agent.public_url is not None and agent.listen is None:
        report.add(("agent", "public_url"), "needs agent.listen: the listener answers the "
                                            "acknowledgement links it puts in messages")
    url_forms = {**channels.forms,
                 **(_judge_urls(channels.urls, judge_urls, report) if judge_urls else {})}

    if report.issues or agent is None or defaults is None:
        raise ConfigError(report.sorted_issues())
    return Config(source=source, agent=agent, defaults=defaults, channels=channels.channels,
                  routes=tuple(routes), checks=tuple(checks.checks),
                  maintenance=tuple(windows),
                  lines=parsed.lines, url_forms=url_forms)


def _judge_urls(urls: list[tuple[YamlPath, str]], judge: UrlJudge,
                report: Reporter) -> dict[str, UrlForm]:
    """Report each URL ``judge`` refuses, shown so the user can tell which one it is;
    return every URL's form (how to show it, which parts are secret)."""
    if not urls:
        return {}
    verdicts = judge([url for _, url in urls])
    forms: dict[str, UrlForm] = {}
    for (path, url), verdict in zip(urls, verdicts, strict=True):
        forms[url] = verdict.form
        if verdict.error is not None:
            report.add(path, f"Apprise cannot use {verdict.form.shown}: {verdict.error}")
    return forms


def _section(model: type[ModelT], data: dict[str, Any], key: str,
             report: Reporter) -> ModelT | None:
    value = data.get(key)
    if value is None:
        value = {}
    return report.validate(model, value, (key,))


def _value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _single(source: str, message: str, line: int | None = None) -> ConfigError:
    return ConfigError([ConfigIssue(source, line, "", message)])
