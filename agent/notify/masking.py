"""Masking of secrets in Apprise URLs and in any text that may quote them.

Apprise URLs carry passwords, API keys and webhook tokens in every part: the user and
password, the host (``opsgenie://APIKEY``), path segments (``slack://T/B/C``) and query
values (``?token=``). What is shown is only what helps tell targets apart; when unsure,
more is masked. ``mask_url`` is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

MASK = "****"

#: Schemes whose host part is a server name worth showing. Every other scheme (slack,
#: discord, tgram, twilio, pagerduty, opsgenie, ... and unknown ones) keeps its secrets
#: in the host, so there the host is masked too.
_SERVER_HOST_SCHEMES = frozenset({
    "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "gotify",
    "gotifys", "ntfy", "ntfys", "matrix", "matrixs", "mmost", "mmosts", "rocket",
    "rockets", "mqtt", "mqtts", "apprise", "apprises", "syslog", "rsyslog", "ncloud",
    "nclouds", "nctalk", "nctalks", "kodi", "kodis", "xbmc", "xbmcs", "emby", "embys",
    "hassio", "hassios", "signal", "signals", "zulip", "misskey", "misskeys", "log",
})

#: Schemes whose path names recipients rather than credentials: there only segments
#: that look like tokens are masked. Everywhere else every path segment is masked.
_PATH_SHOWN_SCHEMES = frozenset({"mailto", "mailtos", "log", "syslog", "rsyslog"})

#: A query parameter whose name contains one of these holds a secret.
_SECRET_PARAM_PARTS = (
    "token", "key", "secret", "pass", "pwd", "auth", "hook", "sig", "cred", "bearer",
    "session", "sid", "private", "access", "code", "cookie", "jwt", "otp",
)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_PORT = re.compile(r"^(.*):(\d{1,5})$")


def looks_secret(text: str) -> bool:
    """Whether a piece of text looks like a token: a long run of letters and digits.

    A run of 16 or more, or of 8 or more that mixes letters and digits, counts.
    """
    for run in _ALNUM_RUN.findall(text):
        if len(run) >= 16:
            return True
        if len(run) >= 8 and not run.isdigit() and not run.isalpha():
            return True
    return False


@dataclass
class _Masker:
    """Masks the parts of one URL, remembering the raw strings it hid."""

    secrets: list[str] = field(default_factory=list)

    def hide(self, raw: str) -> str:
        if not raw or raw == MASK:
            return raw
        self.secrets.append(raw)
        decoded = unquote(raw)
        if decoded != raw:
            self.secrets.append(decoded)
        return MASK

    def maybe(self, raw: str, secret: bool) -> str:
        return self.hide(raw) if secret else raw


def _mask(url: str) -> tuple[str, list[str]]:
    m = _Masker()
    text = url.strip()
    match = _SCHEME.match(text)
    if not match:
        # Not a URL we can read: nothing of it is safe to show.
        return (MASK if text else ""), ([text] if text else [])
    scheme, rest = match.group(1), match.group(2)
    low = scheme.lower()
    server_host = low in _SERVER_HOST_SCHEMES

    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")

    userinfo, at, hostport = authority.rpartition("@")
    out = scheme + "://"
    if at:
        user, colon, password = userinfo.partition(":")
        out += m.maybe(user, not server_host or looks_secret(user))
        if colon:
            out += ":" + m.hide(password)
        out += "@"
    port_match = _PORT.match(hostport)
    host, port = (port_match.group(1), port_match.group(2)) if port_match else (hostport, "")
    if server_host:
        # A server name with something after a colon that is not a port: hide that part.
        name, colon, extra = host.partition(":")
        out += m.maybe(name, looks_secret(name) and not _is_hostname(name))
        out += (":" + m.hide(extra)) if colon else ""
    else:
        out += m.hide(host)
    out += (":" + port) if port else ""

    if slash:
        segments = []
        for seg in path.split("/"):
            if low in _PATH_SHOWN_SCHEMES or (seg.startswith(("#", "%23")) and seg != "#"):
                segments.append(m.maybe(seg, looks_secret(seg)))
            else:
                segments.append(m.hide(seg))
        out += "/" + "/".join(segments)

    if query:
        params = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            if not eq:
                # A bare word in the query is odd enough to be a misplaced secret.
                params.append(m.hide(name))
                continue
            secret = any(p in name.lower() for p in _SECRET_PARAM_PARTS) or looks_secret(value)
            params.append(name + eq + m.maybe(value, secret))
        out += "?" + "&".join(params)
    return out, m.secrets


def _is_hostname(name: str) -> bool:
    """A dotted DNS name or an IP address (shown even when a label is long)."""
    return "." in name and not name.startswith(".") and all(
        re.fullmatch(r"[A-Za-z0-9\-]{1,63}", label) for label in name.split("."))


def mask_url(url: str) -> str:
    """The URL with its passwords, tokens and keys replaced by ``****``.

    ``mailto://user:pass@gmail.com`` -> ``mailto://user:****@gmail.com``;
    ``slack://T1/B2/C3/#ops`` -> ``slack://****/****/****/#ops``.
    Something that is not a URL at all is masked whole.
    """
    return _mask(url)[0]


def url_secrets(url: str) -> list[str]:
    """The raw strings ``mask_url`` hides in ``url`` (with their %-decoded forms)."""
    return _mask(url)[1]


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each known secret replaced by ``****``.

    One-character secrets are left alone: hiding them would garble every word.
    """
    for s in sorted({s for s in secrets if len(s) >= 2}, key=len, reverse=True):
        text = text.replace(s, MASK)
    return text


def scrub(text: str, urls: Iterable[str] = ()) -> str:
    """Remove the secrets of ``urls`` (and of any URL written in the text) from ``text``.

    Used on error messages from notification services, which like to quote the URL.
    """
    urls = [u for u in urls if u]
    for u in sorted(urls, key=len, reverse=True):
        text = text.replace(u, mask_url(u))
        text = text.replace(u.strip(), mask_url(u))
    secrets: list[str] = []
    for u in urls:
        secrets.extend(url_secrets(u))
    text = mask_text(text, secrets)
    return _URL_IN_TEXT.sub(lambda mt: mask_url(mt.group(0)), text)


def secret_fragments(url: str) -> list[str]:
    """The pieces of ``url`` that may be secret (same as ``url_secrets``), for log scrubbers."""
    return url_secrets(url)
