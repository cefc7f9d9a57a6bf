"""Options of the ``http`` check, validated when the config is loaded.

A minimal check is just a URL::

    - name: shop
      kind: http
      url: https://shop.example/
      expect_status: [200]          # default: any 2xx or 3xx
      body_contains: Welcome
      json:                         # each entry: a path and one or more comparisons
        - {path: $.status, equals: ok}
        - {path: $.queue.depth, "<": 100}

Secrets (``basic_auth.password``, ``bearer_token``, a password in ``proxy``) come from the
config's ``${VAR}`` / ``${file:...}`` substitution and are held as ``SecretStr``: they never
appear in a summary, an error or a log line.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

import httpx
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    field_validator,
    model_validator,
)

from agent.check import CheckOptions
from agent.http_client import ClientSettings
from agent.ipfamily import IpFamily
from agent.notify.masking import authorization_secrets, basic_credential_forms, mask_userinfo
from agent.units import parse_size
from checks.http.jsonpath import JsonPath
from checks.shared.net import CaFile, Family, Regex

#: The header-name characters RFC 9110 allows ("token").
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Headers whose values are treated as secrets (scrubbed from any error text).
_SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|pass|cookie|session|signature", re.I)
_STATUS_ITEM = re.compile(r"^([1-5])xx$|^(\d{3})(?:\s*-\s*(\d{3}))?$")


class HttpMethod(enum.Enum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    OPTIONS = "OPTIONS"


# --- status codes -------------------------------------------------------------------------

StatusRanges = tuple[tuple[int, int], ...]


def parse_status_spec(value: Any) -> StatusRanges:
    """``200``, ``"2xx"``, ``"200-204"``, or a list of those, as inclusive (low, high) ranges."""
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("give at least one status code, like 200 or 2xx")
    out: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected a status code like 200, 2xx or 200-299, got {item!r}")
        if isinstance(item, int):
            low = high = item
        else:
            m = _STATUS_ITEM.match(str(item).strip().lower())
            if not m:
                raise ValueError(
                    f"expected a status code like 200, 2xx or 200-299, got {item!r}")
            if m.group(1):
                low, high = int(m.group(1)) * 100, int(m.group(1)) * 100 + 99
            else:
                low = int(m.group(2))
                high = int(m.group(3) or m.group(2))
        if low > high:
            raise ValueError(f"status code range {item!r} runs backwards")
        if not 100 <= low <= high <= 599:
            raise ValueError(f"status codes run from 100 to 599, got {item!r}")
        out.append((low, high))
    return tuple(out)


def status_matches(code: int, ranges: StatusRanges) -> bool:
    return any(low <= code <= high for low, high in ranges)


def describe_status(ranges: StatusRanges) -> str:
    """``200``, ``2xx or 3xx``, ``200, 204 or 301-308``: the words of "expected ..."."""
    words: list[str] = []
    for low, high in ranges:
        if low % 100 == 0 and high % 100 == 99:
            words.extend(f"{h // 100}xx" for h in range(low, high + 1, 100))
        elif low == high:
            words.append(str(low))
        else:
            words.append(f"{low}-{high}")
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


ExpectedStatus = Annotated[StatusRanges, BeforeValidator(parse_status_spec)]


# --- JSON expectations --------------------------------------------------------------------

def _path(value: Any) -> JsonPath:
    if isinstance(value, JsonPath):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a JSON path is text like $.status, got {value!r}")
    return JsonPath.parse(value)


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"comparisons <, <=, >, >= take a number, got {value!r}")
    return value


Number = Annotated[float, BeforeValidator(_number)]


class JsonExpectation(BaseModel):
    """One assertion on the JSON body: the value at ``path`` and how it must compare.

    Comparisons (all given must hold): ``equals`` / ``==`` and ``not_equals`` / ``!=`` take
    any JSON value (``true`` equals only ``true``, never ``1``); ``<``, ``<=``, ``>``,
    ``>=`` (also ``lt``, ``le``, ``gt``, ``ge``) take a number and fail on a value that is not
    one. ``exists: true`` only asks that the path is there; ``exists: false`` that it is not.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: Annotated[JsonPath, PlainValidator(_path)]
    equals: Any = Field(default=None, validation_alias=AliasChoices("equals", "=="))
    not_equals: Any = Field(default=None, validation_alias=AliasChoices("not_equals", "!="))
    lt: Number | None = Field(default=None, validation_alias=AliasChoices("lt", "<"))
    le: Number | None = Field(default=None, validation_alias=AliasChoices("le", "<="))
    gt: Number | None = Field(default=None, validation_alias=AliasChoices("gt", ">"))
    ge: Number | None = Field(default=None, validation_alias=AliasChoices("ge", ">="))
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_assertion(self) -> JsonExpectation:
        given = self.model_fields_set - {"path"}
        if not given:
            raise ValueError("say what to expect at the path: equals, not_equals, <, <=, >, "
                             ">= or exists")
        if self.exists is False and given != {"exists"}:
            raise ValueError("exists: false cannot be combined with comparisons")
        return self


# --- the options ---------------------------------------------------------------------------

def _size(value: Any) -> int:
    return int(parse_size(value))


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value



def redact_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` part masked, for error
    messages (also a proxy written without ``http://``)."""
    return mask_userinfo(url)


def _check_url(text: str, schemes: tuple[str, ...]) -> str:
    """``text`` if it is a URL with one of ``schemes`` and a host (messages mask passwords)."""
    shown = redact_url(text)
    if any(ch.isspace() for ch in text):
        raise ValueError(f"{shown!r} contains white space; encode it as %20")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        # The parser's own words may quote a piece of a password it took for a port.
        detail = "" if "@" in text else f": {exc}"
        raise ValueError(f"{shown!r} is not a valid URL{detail}") from None
    if url.scheme not in schemes or not url.host:
        raise ValueError(f"must be an {' or '.join(s + '://' for s in schemes)} URL "
                         f"with a host name, got {shown!r}")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"{shown!r} has port {url.port}; a port is from 1 to 65535")
    return text


class BasicAuth(BaseModel):
    """HTTP basic authentication; the password is a secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: SecretStr


class HttpOptions(CheckOptions):
    """What to request and what to expect of the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str
    method: HttpMethod = HttpMethod.GET
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: SecretStr | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    #: ``http://[user:password@]proxy:3128``; when set, ``ip_family`` does not apply.
    proxy: SecretStr | None = None
    ip_family: Family = IpFamily.ANY
    #: Off only on purpose: then any certificate is accepted (its dates are still reported).
    verify_tls: bool = True
    #: A PEM file of extra trusted CAs (an internal CA).
    ca_file: CaFile | None = None
    expect_status: ExpectedStatus = ((200, 399),)
    body_contains: Annotated[tuple[str, ...], BeforeValidator(_one_or_many)] = ()
    body_regex: Regex | None = None
    json_checks: tuple[JsonExpectation, ...] = Field(
        default=(), validation_alias=AliasChoices("json", "json_checks"))
    #: At most this much of the body is read into memory (expectations see only that part).
    max_body: Annotated[int, BeforeValidator(_size)] = Field(default=1_000_000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_the_url(cls, data: Any) -> Any:
        """``https://user:password@host/`` becomes the URL without them plus ``basic_auth``,
        so the password is held as a secret like any other and never shown with the URL."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        if any(ch.isspace() for ch in data["url"].strip()):
            return data  # the url validator reports it
        try:
            url = httpx.URL(data["url"].strip())
        except (httpx.InvalidURL, TypeError):
            return data  # the url validator reports it
        if not url.userinfo:
            return data
        if data.get("basic_auth") is not None or data.get("bearer_token") is not None:
            raise ValueError("credentials are given both in url and in basic_auth or "
                             "bearer_token; give them once")
        return {**data, "url": str(url.copy_with(userinfo=b"")),
                "basic_auth": {"username": url.username, "password": url.password}}

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v.strip(), ("http", "https"))

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            _check_url(v.get_secret_value(), ("http", "https"))
        return v

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} must be one line")
        return v

    @field_validator("body_contains")
    @classmethod
    def _contains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in v):
            raise ValueError("body_contains cannot hold an empty string")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> HttpOptions:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise ValueError("give basic_auth or bearer_token, not both")
        if self.method is HttpMethod.HEAD and (self.body_contains or self.body_regex
                                               or self.json_checks):
            raise ValueError("a HEAD response has no body: drop body_contains, body_regex "
                             "and json, or use GET")
        if not self.verify_tls and self.ca_file is not None:
            raise ValueError("ca_file has no effect with verify_tls: false")
        return self

    def client_settings(self) -> ClientSettings:
        """The connection settings this check's client needs."""
        return ClientSettings(
            verify_tls=self.verify_tls,
            ca_file=str(self.ca_file) if self.ca_file else None,
            proxy=self.proxy.get_secret_value() if self.proxy else None,
            ip_family=self.ip_family)

    def secrets(self) -> list[str]:
        """Every configured value that must never be shown, in every form a server or a
        library may quote it (for scrubbing summaries and error texts)."""
        found: list[str] = []
        for name, value in self.headers.items():
            if name.lower() in ("authorization", "proxy-authorization"):
                found.extend(authorization_secrets(value))
            if _SENSITIVE_HEADER.search(name):
                found.append(value)
        if self.basic_auth is not None:
            found.extend(basic_credential_forms(
                self.basic_auth.username, self.basic_auth.password.get_secret_value()))
        if self.bearer_token is not None:
            found.append(self.bearer_token.get_secret_value())
        if self.proxy is not None:
            proxy = httpx.URL(self.proxy.get_secret_value())
            found.extend(basic_credential_forms(proxy.username, proxy.password))
        return list(dict.fromkeys(s for s in found if s))
