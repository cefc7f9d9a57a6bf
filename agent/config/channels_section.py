"""Where alerts go: ``channels:`` (name -> Apprise URLs) and ``routes:``.

Only the URL's outer shape (``scheme://...``) is checked here; whether Apprise accepts
it is asked of Apprise in the same pass (``ParsedChannels.urls``, judged by the loader).
The targets the agent sends itself (``webhook+https://``, ``alertmanager://``: see
``agent.notify.native_urls``) and the bare ``log://`` are judged here in full instead.
URLs carry secrets, so a bad URL is never echoed in a message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from agent.config.models import Channel, Route
from agent.config.report import Reporter
from agent.config.suggest import did_you_mean, quoted, unknown_key
from agent.config.yaml_lines import YamlPath
from agent.notify.masking import UrlForm
from agent.notify.native_urls import native_form, native_kind, parse_target

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")
_URL_HINT = "expected an Apprise URL like 'scheme://...'"
#: The built-in log target with nothing after its scheme: Apprise takes it as it is and
#: it holds no secret, so it is judged here, and a config that sends only there is
#: validated without starting Apprise at all.
_BARE_LOG = re.compile(r"log://", re.IGNORECASE)
#: The keys of a channel in mapping form (the model's fields but ``name``).
_MAPPING_KEYS = ("urls", "group_wait")


#: Stands in for a channel's URLs while its other keys are judged (they are not valid).
_PLACEHOLDER_URLS = ("placeholder://",)


@dataclass
class ParsedChannels:
    """The valid channels, every channel name the file declares (valid or not), and
    every URL of the right shape with its place (for Apprise to judge), and the forms of
    the native targets' URLs (judged here)."""

    channels: dict[str, Channel] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    urls: list[tuple[YamlPath, str]] = field(default_factory=list)
    forms: dict[str, UrlForm] = field(default_factory=dict)


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
        urls = _channel_urls((*path, name), spec, report, out)
        if not name.strip():
            report.add((*path, name), "a channel name must not be empty")
        fields: dict[str, Any] = {"name": name, "urls": urls or _PLACEHOLDER_URLS}
        if isinstance(spec, dict) and "group_wait" in spec:
            fields["group_wait"] = spec["group_wait"]
        # Judged even when the URLs are not, so a bad group_wait shows in the same run.
        channel = report.validate(Channel, fields, (*path, name))
        if channel is not None and urls is not None and report.count() == before:
            out.channels[name] = channel
    return out


def _channel_urls(path: YamlPath, spec: Any, report: Reporter,
                  out: ParsedChannels) -> tuple[str, ...] | None:
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
            continue
        text = url.strip()
        if not _URL.match(text):
            report.add(upath, _URL_HINT)
        elif _BARE_LOG.fullmatch(text):
            urls.append(text)
            out.forms[text] = UrlForm(text)
        elif native_kind(text) is not None:
            if _native_ok(upath, text, report):
                urls.append(text)
                out.forms[text] = native_form(text)
        else:
            urls.append(text)
            if not report.is_muted(upath):
                out.urls.append((upath, text))
    return tuple(urls) if len(urls) == len(items) else None


def _native_ok(path: YamlPath, url: str, report: Reporter) -> bool:
    """Whether a webhook or Alertmanager URL is usable; reports why not (showing it
    masked)."""
    try:
        parse_target(url)
    except ValueError as exc:
        report.add(path, f"cannot use {native_form(url).shown}: {exc}")
        return False
    return True


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
    channel_names, check_names = frozenset(channel_names), frozenset(check_names)
    for index, entry in enumerate(data):
        rpath: YamlPath = (*path, index)
        route = report.validate(Route, entry, rpath)
        # The names are judged as written, whatever else is wrong with the route.
        known = isinstance(entry, dict)
        if known:
            known = _names_known(entry, "channels", channel_names, rpath=rpath, report=report)
            known = _names_known(entry, "checks", check_names, rpath=rpath, report=report) \
                and known
            steps = entry.get("escalate")
            for n, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict):
                    known = _names_known(step, "channels", channel_names,
                                         rpath=(*rpath, "escalate", n), report=report) \
                        and known
        if route is not None and known:
            routes.append(route)
    return routes


def _names_known(entry: dict[str, Any], key: str, known: Collection[str], *,
                 rpath: YamlPath, report: Reporter) -> bool:
    """Report each name under ``entry[key]`` that is not in ``known``; False if any."""
    what = key.removesuffix("s")
    value = entry.get(key)
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    ok = True
    for j, name in enumerate(names):
        if isinstance(name, str) and name not in known:
            ok = False
            where = (*rpath, key) if isinstance(value, str) else (*rpath, key, j)
            report.add_lazily(where, functools.partial(_unknown_name, what, name, known))
    return ok


def _unknown_name(what: str, name: str, known: Collection[str]) -> str:
    if what == "channel" and "://" in name:
        # A URL written where a channel's name belongs: it carries secrets, so only its
        # scheme is shown (as for every URL of the file).
        scheme = name.partition("://")[0]
        return (f"route names a URL ({quoted(scheme)[1:-1]}://...) where a channel's name "
                f"belongs; define it under channels: and name that channel here"
                f"{_known_hint(name, known, f'{what}s', suggest=False)}")
    return f"route names unknown {what} {quoted(name)}{_known_hint(name, known, f'{what}s')}"


def _known_hint(name: str, known: Collection[str], what: str, *, suggest: bool = True) -> str:
    hint = did_you_mean(name, known) if suggest else ""
    if hint:
        return hint
    if not known:
        return f" (no {what} are defined)"
    return f" (defined: {', '.join(sorted(known))})"
