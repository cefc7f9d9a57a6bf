"""Where alerts go: ``channels:`` (name -> Apprise URLs) and ``routes:``.

Only the URL's outer shape (``scheme://...``) is checked here; whether Apprise knows the
service is judged where notifications are sent. URLs carry secrets, so a bad URL is never
echoed in a message.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from agent.config.models import Channel, Route
from agent.config.report import Reporter
from agent.config.suggest import did_you_mean, unknown_key
from agent.config.yaml_lines import YamlPath

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")
_URL_HINT = "expected an Apprise URL like 'scheme://...'"
#: The keys of a channel in mapping form (the model's fields but ``name``).
_MAPPING_KEYS = ("urls", "group_wait")


@dataclass
class ParsedChannels:
    """The valid channels, and every channel name the file declares (valid or not)."""

    channels: dict[str, Channel] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)


def parse_channels(data: Any, report: Reporter) -> ParsedChannels:
    """``channels:`` -> Channel per name; each takes a URL list, a single URL or
    ``{urls: [...], group_wait: 30s}``."""
    out = ParsedChannels()
    path: YamlPath = ("channels",)
    if data is None:
        return out
    if not isinstance(data, dict):
        report.add(path, "expected a mapping of channel names to Apprise URLs, "
                         f"got {report.show(path, data)}")
        return out
    for name, spec in data.items():
        out.names.append(name)
        before = report.count()
        urls = _channel_urls((*path, name), spec, report)
        if not name.strip():
            report.add((*path, name), "a channel name must not be empty")
        if urls is not None and report.count() == before:
            fields: dict[str, Any] = {"name": name, "urls": urls}
            if isinstance(spec, dict) and "group_wait" in spec:
                fields["group_wait"] = spec["group_wait"]
            channel = report.validate(Channel, fields, (*path, name))
            if channel is not None:
                out.channels[name] = channel
    return out


def _channel_urls(path: YamlPath, spec: Any, report: Reporter) -> tuple[str, ...] | None:
    where = path
    if isinstance(spec, dict):
        strays = [key for key in spec if key not in _MAPPING_KEYS]
        for key in strays:
            report.add((*path, key), unknown_key(key, list(_MAPPING_KEYS)))
        if "urls" not in spec and not strays:
            report.add(path, "missing required key 'urls'")
        if "urls" not in spec:
            return None
        spec = spec["urls"]
        where = (*path, "urls")
    if isinstance(spec, str):
        items: list[tuple[YamlPath, Any]] = [(where, spec)]
    elif isinstance(spec, list):
        items = [((*where, i), u) for i, u in enumerate(spec)]
    elif spec is None:
        items = []
    else:
        report.add(where, f"expected a list of Apprise URLs, got {report.show(where, spec)}")
        return None
    if not items:
        report.add(where, "a channel needs at least one Apprise URL")
        return None
    urls: list[str] = []
    for upath, url in items:
        if not isinstance(url, str):
            report.add(upath, f"{_URL_HINT}, got {report.show(upath, url)}")
        elif not _URL.match(url.strip()):
            report.add(upath, _URL_HINT)
        else:
            urls.append(url.strip())
    return tuple(urls) if len(urls) == len(items) else None


def parse_routes(data: Any, channel_names: Collection[str], check_names: Collection[str],
                 report: Reporter) -> list[Route]:
    """``routes:`` -> Route list; every channel (and check) a route names must exist."""
    path: YamlPath = ("routes",)
    if data is None:
        return []
    if not isinstance(data, list):
        report.add(path, f"expected a list of routes, got {report.show(path, data)}")
        return []
    routes: list[Route] = []
    for index, entry in enumerate(data):
        rpath: YamlPath = (*path, index)
        route = report.validate(Route, entry, rpath)
        if route is None:
            continue
        ok = True
        for j, channel in enumerate(route.channels):
            if channel not in channel_names:
                ok = False
                report.add((*rpath, "channels", j),
                           f"route names unknown channel {channel!r}"
                           + _known_hint(channel, channel_names, "channels"))
        for j, check in enumerate(route.checks):
            if check not in check_names:
                ok = False
                report.add((*rpath, "checks", j),
                           f"route names unknown check {check!r}"
                           + _known_hint(check, check_names, "checks"))
        if ok:
            routes.append(route)
    return routes


def _known_hint(name: str, known: Collection[str], what: str) -> str:
    hint = did_you_mean(name, known)
    if hint:
        return hint
    if not known:
        return f" (no {what} are defined)"
    return f" (defined: {', '.join(sorted(known))})"
