"""Masking of secrets in notification URLs and DSNs, and in any text that may quote them;
and of credentials (Basic, in every form, and proxy passwords) in what checks report.

Which parts of a URL are secret depends on the service: the host of ``opsgenie://KEY``
is the API key, the host of ``json://hooks.example.com/`` is a server. Apprise knows this
for each of its plugins (``url(privacy=True)``), and only Apprise does, so the Apprise
child process works out the ``UrlForm`` of every configured URL (``agent.notify.
apprise_child``) and the agent ``remember``s it: from then on ``mask_url`` shows that form
and the log scrubber hides exactly its secrets.

For a URL nobody asked Apprise about (a command that does not validate the config, a URL
quoted in an error text), ``fallback_form`` applies. It knows no service, so it is the
same for every scheme and errs on the side of hiding: the password, secret-looking query
values and every path segment are hidden, and the host is shown only when it is plainly a
server name (``mail.example.com``, ``127.0.0.1``, ``localhost``); a host like the
``TOKEN`` of ``opsgenie://TOKEN`` is hidden. Of what it hides, it gives the log scrubber
only the parts that are secret whatever the scheme or look like tokens, so no ordinary
word (a topic, a path) is ever scrubbed from a log line on a guess.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "****"

#: A query parameter whose name contains one of these holds a secret, in any URL or DSN.
_SECRET_PARAM_PARTS = (
    "token", "key", "secret", "pass", "pwd", "auth", "hook", "sig", "cred", "bearer",
    "session", "sid", "private", "access", "code", "cookie", "jwt", "otp",
)
#: Texts shorter than this are not scrubbed from free text: they would garble words.
MIN_TEXT_SECRET = 4

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_PORT = re.compile(r"^(.*):(\d{1,5})$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_LABEL = re.compile(r"^[A-Za-z0-9\-]{1,63}$")
#: What separates the parts of a URL: a secret is masked only as a whole part.
_URL_DELIMITERS = "/:@?&=#;,"


@dataclass(frozen=True, slots=True)
class UrlForm:
    """How one URL may be shown, and which of its parts are secret.

    ``secrets`` are what the log scrubber hides (each in its raw and %-decoded forms);
    ``hidden`` are any further parts that ``shown`` masks only to be safe (the fallback's
    guesses), hidden from error texts about this URL but not from every log line.
    """

    shown: str
    secrets: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


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


def variants(secrets: Iterable[str]) -> list[str]:
    """Each secret as written, %-decoded and %-encoded (how a log may quote it)."""
    out: dict[str, None] = {}
    for s in secrets:
        if not s:
            continue
        decoded = unquote(s)
        for v in (s, decoded, quote(decoded, safe=""), quote(decoded, safe="@:+")):
            out.setdefault(v, None)
    return list(out)


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    user: str | None
    password: str | None
    host: str
    port: str
    path: list[str]
    query: list[tuple[str, str | None]]  # (name, value); None for a bare word


def is_url(text: str) -> bool:
    """Whether ``text`` reads as ``scheme://...``."""
    return _SCHEME.match(text.strip()) is not None


def _split(url: str) -> _Parts | None:
    match = _SCHEME.match(url.strip())
    if not match:
        return None
    scheme, rest = match.group(1), match.group(2)
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    user = password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    port_match = _PORT.match(hostport)
    host, port = (port_match.group(1), port_match.group(2)) if port_match else (hostport, "")
    params: list[tuple[str, str | None]] = []
    for part in query.split("&") if query else []:
        name, eq, value = part.partition("=")
        params.append((name, value if eq else None))
    return _Parts(scheme, user, password, host, port, path.split("/") if slash else [],
                  params)


def _secret_param(name: str) -> bool:
    return any(p in name.lower() for p in _SECRET_PARAM_PARTS)


def fixed_secrets(url: str) -> list[str]:
    """The parts of ``url`` that are secret whatever its scheme says: the password, and
    the values of query parameters named like ``token``, ``apikey`` or ``password``.

    The same for Apprise URLs and database DSNs (``postgresql://u:PW@db/x?password=PW``).
    """
    parts = _split(url)
    if parts is None:
        return []
    found = [parts.password] if parts.password else []
    found += [v for n, v in parts.query if v and _secret_param(n)]
    return found


def mask_parts(url: str, secrets: Iterable[str]) -> str:
    """``url`` with each whole part equal to one of ``secrets`` replaced by ``****``.

    A part is what lies between the URL's delimiters (``/ : @ ? & = #``): a secret that
    is only a piece of a longer word (``db`` in ``db1.example.com``) is left alone.
    """
    pattern = _bounded(variants(secrets), _URL_DELIMITERS)
    return url if pattern is None else pattern.sub(MASK, url)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret replaced by ``****`` where it stands as a word.

    A secret inside a longer run of letters and digits is left alone, and secrets shorter
    than four characters are ignored: hiding them would garble ordinary words.
    """
    pattern = text_pattern(secrets)
    return text if pattern is None else pattern.sub(MASK, text)


def text_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """The pattern ``mask_text`` replaces (None when there is nothing to hide), for
    callers that scrub many texts with the same secrets."""
    return _bounded([s for s in secrets if len(s) >= MIN_TEXT_SECRET], None)


def _bounded(secrets: Iterable[str], delimiters: str | None) -> re.Pattern[str] | None:
    """One pattern matching any of ``secrets`` between delimiters (None: non-alphanumerics)."""
    unique = sorted({s for s in secrets if s and s != MASK}, key=len, reverse=True)
    if not unique:
        return None
    alternatives = "|".join(re.escape(s) for s in unique)
    if delimiters is None:
        return re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
    d = re.escape(delimiters)
    return re.compile(f"(?<![^{d}])(?:{alternatives})(?![^{d}])")


def form_with(url: str, candidates: Iterable[str]) -> UrlForm:
    """The form of ``url`` whose secrets are ``candidates`` (plus its ``fixed_secrets``),
    keeping only those that stand as whole parts of what the user wrote (a service's
    defaults that never appear in the URL are no secrets of this URL)."""
    text = url.strip()
    wanted = variants([*fixed_secrets(text), *candidates])
    present = [s for s in wanted if _stands_in(text, s)]
    return UrlForm(mask_parts(text, present), tuple(variants(present)))


def _stands_in(url: str, secret: str) -> bool:
    pattern = _bounded([secret], _URL_DELIMITERS)
    return pattern is not None and pattern.search(url) is not None


def _is_server(host: str) -> bool:
    """A dotted DNS name, an IP address or ``localhost``: a server, not a token."""
    if host.lower() == "localhost" or _IPV4.match(host):
        return True
    if host.startswith("[") and host.endswith("]"):
        return True
    labels = host.split(".")
    return len(labels) > 1 and all(_LABEL.match(label) for label in labels) \
        and not labels[-1].isdigit()


def _shown_segment(seg: str) -> bool:
    """A path segment that names a recipient (``#ops``, ``@oncall``, ``ops@example.com``)."""
    if looks_secret(seg):
        return False
    if seg.startswith(("#", "%23", "@", "%40")) and len(seg) > 1:
        return True
    local, at, domain = unquote(seg).partition("@")
    return bool(at and local and _is_server(domain))


def fallback_form(url: str) -> UrlForm:
    """The form of ``url`` without Apprise's knowledge of its service (see module doc)."""
    text = url.strip()
    parts = _split(text)
    if parts is None:
        # Not a URL we can read: nothing of it is safe to show.
        return UrlForm(MASK, (text,), ()) if text else UrlForm("")
    hidden: list[str] = []
    sure = fixed_secrets(text)

    def hide(raw: str, secret: bool = True) -> str:
        if not secret or not raw or raw == MASK:
            return raw
        hidden.append(raw)
        return MASK

    server = _is_server(parts.host)
    out = parts.scheme + "://"
    if parts.user is not None:
        out += hide(parts.user, not server or looks_secret(parts.user))
        if parts.password is not None:
            out += ":" + hide(parts.password)
        out += "@"
    out += hide(parts.host, not server)
    out += (":" + parts.port) if parts.port else ""
    if parts.path:
        out += "/" + "/".join(hide(s, not _shown_segment(s)) for s in parts.path)
    if parts.query:
        shown = []
        for name, value in parts.query:
            if value is None:
                # A bare word in the query is odd enough to be a misplaced secret.
                shown.append(hide(name))
            else:
                secret = _secret_param(name) or looks_secret(value)
                shown.append(name + "=" + hide(value, secret))
        out += "?" + "&".join(shown)
    secrets = [s for s in hidden if s in sure or looks_secret(s)]
    return UrlForm(out, tuple(variants(secrets)), tuple(variants(hidden)))


_known: dict[str, UrlForm] = {}


def remember(url: str, form: UrlForm) -> None:
    """Use ``form`` (worked out with Apprise) for ``url`` in this process from now on."""
    _known[url.strip()] = form


def form_of(url: str) -> UrlForm:
    """The remembered form of ``url``, else its ``fallback_form``."""
    return _known.get(url.strip()) or fallback_form(url)


def mask_url(url: str) -> str:
    """``url`` with its passwords, tokens and keys replaced by ``****``.

    ``mailto://user:pass@gmail.com`` -> ``mailto://user:****@gmail.com``. Apprise's
    knowledge when ``remember``ed, else the fallback: ``slack://T1/B2/C3/#ops`` ->
    ``slack://****/****/****/#ops``. Something that is not a URL is masked whole.
    """
    return form_of(url).shown


def secret_fragments(url: str) -> list[str]:
    """The secret parts of ``url``, for the log scrubber (see ``form_of``)."""
    return list(form_of(url).secrets)


def scrub(text: str, urls: Iterable[str] = ()) -> str:
    """Remove the secrets of ``urls`` (and of any URL written in the text) from ``text``.

    Used on error messages from notification services, which like to quote the URL.
    """
    forms = {u.strip(): form_of(u) for u in urls if u and u.strip()}
    for u in sorted(forms, key=len, reverse=True):
        text = text.replace(u, forms[u].shown)
    text = mask_text(text, [s for f in forms.values() for s in (*f.secrets, *f.hidden)])
    shown = {f.shown for f in forms.values()}
    return _URL_IN_TEXT.sub(
        lambda m: m.group(0) if m.group(0) in shown else mask_url(m.group(0)), text)


# --- credentials a server or a client library may quote ---------------------------------

#: ``Basic <token>`` in any text (a header echoed by a server, a library's message).
_BASIC_IN_TEXT = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/_\-]+=*)")
#: The ``user:password@`` of a URL or of a proxy written without its scheme.
#: Up to the last ``@``: a password may hold ``/``, ``@`` or a space when not %-encoded.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.\-]*://)?).*@", re.DOTALL)


def _base64_forms(raw: bytes) -> list[str]:
    """``raw`` in Base64 as servers and libraries write it: padded, unpadded, URL-safe."""
    std = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    return [std, std.rstrip("="), url, url.rstrip("=")]


def basic_credential_forms(username: str, password: str) -> list[str]:
    """Every form of a Basic credential that must never be shown: the password (raw and
    %-decoded), ``user:password``, and the Base64 of both (what ``Authorization: Basic``
    carries, and what a server echoing that header shows)."""
    if not password:
        return []
    pair = f"{username}:{password}"
    found = [*variants([password]), pair]
    for text in (pair, password):
        found.extend(_base64_forms(text.encode()))
    return list(dict.fromkeys(found))


def authorization_secrets(value: str) -> list[str]:
    """The secret parts of an ``Authorization`` (or ``Proxy-Authorization``) header value:
    the credentials after the scheme word and, for ``Basic``, every form of the decoded
    ``user:password``; a value without a scheme word is secret whole."""
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return [value.strip()] if value.strip() else []
    found = [credentials]
    if scheme.lower() == "basic":
        pair = _decoded_basic(credentials)
        if pair is not None:
            user, _, password = pair.partition(":")
            found.extend(basic_credential_forms(user, password))
    return list(dict.fromkeys(found))


def _decoded_basic(token: str) -> str | None:
    """The ``user:password`` a Basic token carries, None when it carries none."""
    padded = token + "=" * (-len(token) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            text = decode(padded.encode("ascii")).decode("utf-8")
        except (ValueError, UnicodeError):
            continue
        if ":" in text:
            return text
    return None


def mask_userinfo(text: str) -> str:
    """``text`` (a URL, or a proxy given without its scheme) with its ``user:password@``
    part replaced by ``****@`` (a user name alone may be a token):
    ``bob:pw@proxy:3128`` -> ``****@proxy:3128``."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text.strip(), count=1)


class CredentialScrubber:
    """Hides one check's credentials from the texts it produces: each of ``secrets``
    (wherever it stands, whatever its length: they are the check's own, in all their
    forms, see ``basic_credential_forms``) and any ``Basic <token>`` that carries a
    ``user:password``, whoever's it is.

    For the summaries and errors of checks, which may quote what a server sent back.
    Built once per check: the pattern is compiled here, not per text.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = sorted({s for s in secrets if s and s != MASK}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, unique))) if unique else None

    def __call__(self, text: str) -> str:
        """``text`` without the credentials."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if "basic" not in text.lower():  # most texts: no regex to run
            return text
        return _BASIC_IN_TEXT.sub(_mask_basic, text)


def _mask_basic(m: re.Match[str]) -> str:
    if _decoded_basic(m.group(3)) is None:
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{MASK}"


def shown_location(url: str) -> str:
    """What a check watches, fit for a message: ``url`` without its ``user:password@``
    and with token-like path segments and the values of secret-looking query parameters
    (``?token=...``) masked; the host and the rest of the path stay, since they are what
    the reader needs to see."""
    parts = _split(url)
    if parts is None:
        return mask_userinfo(url)
    secrets = [v for n, v in parts.query if v and (_secret_param(n) or looks_secret(v))]
    secrets += [s for s in parts.path if looks_secret(s)]
    return mask_userinfo(mask_parts(url.strip(), secrets))
