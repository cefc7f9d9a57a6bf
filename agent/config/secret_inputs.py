"""Values as written that a config message must not show: secret options and passwords.

A value that failed validation is often quoted back ("got 'user:pw@proxy:3128'"), and
the text as written is not yet a ``SecretStr``, nor known to the log scrubber: a valid
config's secrets are registered only once it is valid. So the messages about a value
are cleaned here: the value of a field typed ``SecretStr`` is hidden whole, and any
text that reads as ``[scheme://]user:password@host`` keeps all but its password.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "****"
HIDDEN = "(a secret, not shown)"
#: Leaves of one input looked at, at most (a message is about one value, or one section).
_MAX_LEAVES = 1_000
_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")


def mask_password(text: str) -> tuple[str, str] | None:
    """``(text with its password masked, the password)`` when ``text`` reads as
    ``[scheme://]user:password@host...``; None when it holds no password.

    Generous on purpose: the last ``@`` ends the user part, so a password holding ``/`` or
    ``@`` is masked whole (a URL with an ``@`` in its path loses a little too much).
    """
    if "@" not in text or ":" not in text:
        return None
    match = _SCHEME.match(text)
    start = match.end() if match else 0
    at = text.rfind("@", start)
    userinfo = text[start:at]
    colon = userinfo.find(":")
    if at < 0 or colon < 0 or any(c.isspace() for c in userinfo):
        return None
    password = userinfo[colon + 1:]
    if not password:
        return None
    return f"{text[:start + colon + 1]}{MASK}{text[at:]}", password


def scrub(message: str, value: str, *, secret: bool) -> str:
    """``message`` with ``value`` (quoted or bare) not shown: hidden whole when
    ``secret``, else only its password (if it has one)."""
    masked = mask_password(value)
    if masked is not None:
        shown, password = masked
        message = message.replace(value, shown)
        if len(password) >= 4:  # shorter would mangle unrelated words
            message = message.replace(password, MASK)
        return message
    if not secret or not value:
        return message
    message = message.replace(repr(value), HIDDEN)
    return message.replace(value, HIDDEN) if len(value) >= 4 else message


def scrub_input(message: str, value: Any, *, secret: bool) -> str:
    """``scrub`` for every text inside ``value`` (a scalar, list or mapping)."""
    for leaf in _leaves(value):
        message = scrub(message, leaf, secret=secret)
    return message


def secret_leaves(model: type[BaseModel], data: Any) -> Iterator[str]:
    """The texts in ``data`` that ``model`` would take as ``SecretStr`` (nested too)."""
    if not isinstance(data, Mapping):
        return
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in data:
            yield from _secret_texts(field.annotation, data[key])


def holds_secret(tp: Any) -> bool:
    """Whether a field annotation takes a ``SecretStr`` (``SecretStr | None``, a list of them)."""
    if tp is SecretStr or (isinstance(tp, type) and issubclass(tp, SecretStr)):
        return True
    return any(holds_secret(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)


def _secret_texts(tp: Any, value: Any) -> Iterator[str]:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield from secret_leaves(tp, value)
        return
    if holds_secret(tp) and not _holds_model(tp):
        yield from _leaves(value)
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            yield from _secret_texts(arm, value)
    elif origin in (list, tuple, set, frozenset) and args and isinstance(value, list):
        for item in value[:_MAX_LEAVES]:
            yield from _secret_texts(args[0], item)
    elif origin in (dict, Mapping) and args and isinstance(value, Mapping):
        for item in list(value.values())[:_MAX_LEAVES]:
            yield from _secret_texts(args[-1], item)


def _holds_model(tp: Any) -> bool:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return True
    return any(_holds_model(a) for a in typing.get_args(tp) if a is not Ellipsis)


def _leaves(value: Any) -> Iterator[str]:
    stack = [value]
    seen = 0
    while stack and seen < _MAX_LEAVES:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
