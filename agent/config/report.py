"""Collecting config issues: where (file, line, dotted path), what, in plain words.

Every message passes through here, so this is also where substituted values (secrets)
are kept out of messages and where pydantic's wording becomes the agent's.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from agent.config.secret_inputs import holds_secret, mask_password, scrub_input, secret_leaves
from agent.config.suggest import unknown_key
from agent.config.yaml_lines import LineMap, YamlPath, format_path
from agent.errors import ConfigIssue

ModelT = TypeVar("ModelT", bound=BaseModel)

# Substituted values at least this long are kept out of every message, not only the
# messages about their own path (a token is long; "info" or "80" are not worth hiding
# everywhere, and hiding them would mangle unrelated words).
_GLOBAL_SCRUB_LENGTH = 8
#: Issues kept, at most: past this a hostile file would only cost time and screens.
MAX_ISSUES = 200
#: A text value in a message: longer ones are cut (the line of the file shows it whole).
_SHOWN_CHARS = 60


class Reporter:
    """Gathers the issues of one config file, in the order of the file."""

    def __init__(self, source: str, lines: LineMap,
                 sources: Mapping[YamlPath, tuple[str, ...]] | None = None,
                 secrets: Mapping[YamlPath, str] | None = None) -> None:
        self.source = source
        self.lines = lines
        #: path -> what was substituted there (``${API_TOKEN}``)
        self.sources = dict(sources or {})
        #: path -> the substituted value (to keep it out of messages)
        self.secrets = dict(secrets or {})
        self.issues: list[ConfigIssue] = []
        #: Issues found past ``MAX_ISSUES`` (counted, not kept).
        self.dropped = 0
        self._seen: set[ConfigIssue] = set()
        self._muted: set[YamlPath] = set()

    # -- adding ---------------------------------------------------------------------------

    def add(self, path: YamlPath, message: str, line: int | None = None) -> None:
        """Report ``message`` at ``path`` (line: the path's own, or its nearest parent's).

        The same message at the same place is reported once.
        """
        if self.is_muted(path):
            return
        if len(self.issues) >= MAX_ISSUES:
            self.dropped += 1
            return
        issue = ConfigIssue(self.source, line if line is not None else self.lines.line_of(path),
                            format_path(path), self._scrub(path, message))
        if issue not in self._seen:
            self._seen.add(issue)
            self.issues.append(issue)

    def add_lazily(self, path: YamlPath, message: Callable[[], str]) -> None:
        """``add``, with a message that costs time to make (a suggestion among many
        names): made only when the issue will be kept."""
        if self.is_muted(path):
            return
        if self.full:
            self.dropped += 1
            return
        self.add(path, message())

    def mute(self, path: YamlPath) -> None:
        """Report nothing more at or below ``path`` (its value is known to be broken)."""
        self._muted.add(path)

    def count(self) -> int:
        return len(self.issues) + self.dropped

    @property
    def full(self) -> bool:
        """Whether more issues would only be counted (``MAX_ISSUES`` are kept)."""
        return len(self.issues) >= MAX_ISSUES

    def sorted_issues(self) -> list[ConfigIssue]:
        """The issues in file order (issues without a line first, keeping their order),
        and a last one saying how many more were found, if any."""
        issues = sorted(self.issues, key=lambda i: i.line or 0)
        if self.dropped:
            issues.append(ConfigIssue(self.source, None, "",
                                      f"{self.dropped:,} more problems, not listed"))
        return issues

    # -- values in messages ---------------------------------------------------------------

    def show(self, path: YamlPath, value: Any) -> str:
        """A value for a message: ``'soon'``, ``5``, ``a list`` or ``(value from ${VAR})``."""
        if path in self.sources:
            return f"(value from {', '.join(self.sources[path])})"
        return describe(value)

    def _scrub(self, path: YamlPath, message: str) -> str:
        for where, secret in self.secrets.items():
            below = where[:len(path)] == path
            if not (below or len(secret) >= _GLOBAL_SCRUB_LENGTH):
                continue
            label = f"(value from {', '.join(self.sources.get(where, ('a substitution',)))})"
            message = message.replace(repr(secret), label)
            if len(secret.strip()) >= 4:
                message = message.replace(secret.strip(), label)
        return message

    def is_muted(self, path: YamlPath) -> bool:
        """Whether ``path`` lies at or below a muted path."""
        return any(path[:n] in self._muted for n in range(len(path) + 1))

    # -- pydantic -------------------------------------------------------------------------

    def validate(self, model: type[ModelT], data: Any, prefix: YamlPath,
                 extra_keys: Collection[str] = ()) -> ModelT | None:
        """``model.model_validate(data)``, reporting every error under ``prefix``.

        ``extra_keys`` are keys also allowed at the top of ``data`` (handled elsewhere),
        offered as suggestions for an unknown key.
        """
        try:
            return model.model_validate(data)
        except ValidationError as e:
            errors = e.errors(include_url=False)
        except Exception as e:  # a validator that raised what pydantic does not catch
            self._broken_validator(model, data, prefix, e)
            return None
        self._report(model, data, prefix, extra_keys, errors)
        self._whole_model_checks(model, data, prefix, errors)
        return None

    def _broken_validator(self, model: type[BaseModel], data: Any, prefix: YamlPath,
                          error: Exception) -> None:
        """Report a validator's own exception (OverflowError from ``int(inf)``, say) at
        the key whose value alone raises it, or at the section when none does."""
        where = prefix
        if isinstance(data, dict):
            for key, value in data.items():
                try:
                    model.model_validate({key: value})
                except ValidationError:
                    continue
                except Exception:
                    where = (*prefix, key)
                    break
        if isinstance(error, OverflowError):
            message = "a number here is out of range"
        else:
            message = f"cannot be validated ({type(error).__name__}: {error})"
        message = scrub_input(message, data, secret=False)
        for leaf in secret_leaves(model, data):
            message = scrub_input(message, leaf, secret=True)
        self.add(where, message)

    def _whole_model_checks(self, model: type[BaseModel], data: Any, prefix: YamlPath,
                            errors: list[ErrorDetails]) -> None:
        """Report what the model's own checks of the whole (its ``model_validator``s)
        say, which pydantic runs only once every field is valid: validate again without
        the fields in error, so those problems are not left for the next run.

        Only possible when every field in error may be left out. Not done when a key is
        unknown (it is likely a misspelt field those checks would miss), and a complaint
        naming a field that was left out ("give period or cron") is dropped: it was given.
        """
        if not isinstance(data, dict) or any(
                e["type"] in ("missing", "extra_forbidden") for e in errors):
            return
        dropped = {str(e["loc"][0]) for e in errors if e["loc"] and e["loc"][0] in data}
        fields = model.model_fields
        if not dropped or any(k in fields and fields[k].is_required() for k in dropped):
            return
        try:
            model.model_validate({k: v for k, v in data.items() if k not in dropped})
            return
        except ValidationError as e:
            again = [err for err in e.errors(include_url=False) if not err["loc"]]
        again = [err for err in again
                 if not any(re.search(rf"\b{re.escape(k)}\b", err["msg"]) for k in dropped)]
        self._report(model, data, prefix, (), again)

    def _report(self, model: type[BaseModel], data: Any, prefix: YamlPath,
                extra_keys: Collection[str], errors: list[ErrorDetails]) -> None:
        # A value that fits no arm of a union fails once per arm, each error under the
        # arm's name ("int", "list[int]"); report it once, at the value's own path.
        grouped: dict[YamlPath, list[ErrorDetails]] = {}
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "missing":
                where = _data_path(data, loc[:-1])
                self.add(prefix + where, f"missing required key {str(loc[-1])!r}")
            elif error["type"] == "extra_forbidden":
                allowed = keys_at(model, loc[:-1]) or []
                if not loc[:-1]:
                    allowed = [*allowed, *extra_keys]
                self.add(prefix + _data_path(data, loc), unknown_key(str(loc[-1]), allowed))
            else:
                grouped.setdefault(prefix + _data_path(data, loc), []).append(error)
        for path, group in grouped.items():
            if self.full:
                self.dropped += 0 if self.is_muted(path) else len(group)
                continue
            kinds = [g["type"] for g in group]
            if len(group) > 1 and all(k in _EXPECTED for k in kinds):
                wants = list(dict.fromkeys(_EXPECTED[k] for k in kinds))
                message = (f"expected {' or '.join(wants)}, "
                           f"got {self.show(path, group[0]['input'])}")
                self.add(path, self._hide_inputs(model, data, group[0], message))
                continue
            for message in dict.fromkeys(self._hide_inputs(model, data, g, self._plain(g, path))
                                         for g in group):
                self.add(path, message)

    def _hide_inputs(self, model: type[BaseModel], data: Any, error: ErrorDetails,
                     message: str) -> str:
        """``message`` without the secrets of the value it is about: the whole value of a
        ``SecretStr`` field, the password of any URL-like text (``user:pw@proxy``)."""
        loc = tuple(error["loc"])
        secret = bool(loc) and holds_secret(_annotation_at(model, loc))
        message = scrub_input(message, error["input"], secret=secret)
        if not loc:  # about the whole section: its secret fields are hidden whole
            for leaf in secret_leaves(model, data):
                message = scrub_input(message, leaf, secret=True)
        return message

    def _plain(self, error: ErrorDetails, path: YamlPath) -> str:
        kind = error["type"]
        ctx = error.get("ctx") or {}
        got = self.show(path, error["input"])
        if kind in ("value_error", "assertion_error"):
            text = str(ctx.get("error", error["msg"]))
            text = re.sub(r"^(Value error|Assertion failed), ", "", text)
            if error["input"] is None:
                text = text.replace("got None", "got an empty value")
            return text
        if kind in _EXPECTED:
            return f"expected {_EXPECTED[kind]}, got {got}"
        if kind in ("enum", "literal_error"):
            return f"expected {ctx.get('expected', 'one of the listed values')}, got {got}"
        if kind in ("too_short", "string_too_short"):
            least = int(ctx.get("min_length", 1))
            if least == 1:
                return "must not be empty"
            unit = "characters" if kind == "string_too_short" else "items"
            return f"expected at least {least} {unit}"
        if kind in ("too_long", "string_too_long"):
            unit = "characters" if kind == "string_too_long" else "items"
            return f"expected at most {ctx.get('max_length')} {unit}"
        if kind in _LIMITS:
            word, key = _LIMITS[kind]
            return f"must be {word} {ctx.get(key)}, got {got}"
        msg = re.sub(r"^Input should be (a valid )?", "expected ", error["msg"]).split(", ")[0]
        return f"{msg}, got {got}" if msg.startswith("expected") else msg


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "string_unicode": "text",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "frozen_set_type": "a list", "iterable_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "dataclass_type": "a mapping", "path_type": "a path", "none_required": "nothing",
    "url_type": "a URL", "url_parsing": "a URL", "url_scheme": "a URL",
}

_LIMITS = {
    "greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le"),
    "multiple_of": ("a multiple of", "multiple_of"),
}


def describe(value: Any) -> str:
    """A value as the user wrote it: ``'soon'``, ``5``, ``true``, ``a list``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set | frozenset):
        return "a list"
    if isinstance(value, str):
        masked = mask_password(value)
        if masked is not None:
            value = masked[0]
        if len(value) > _SHOWN_CHARS:
            return f"{value[:_SHOWN_CHARS - 20]!r}... ({len(value):,} characters)"
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    return describe(str(value))


def _data_path(data: Any, loc: Sequence[str | int]) -> YamlPath:
    """The part of a pydantic ``loc`` that names places in ``data``.

    Parts that do not (the names pydantic gives union arms, ``[key]`` tags) are left out.
    """
    out: list[str | int] = []
    for part in loc:
        present = (part in data) if isinstance(data, dict) else (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if present:
            data = data[part]
            out.append(part)
    return tuple(out)


def _annotation_at(model: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The annotation of the field at ``loc`` inside ``model`` (None if unknown)."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return None
    return tp


def keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The keys the model nested at ``loc`` inside ``model`` accepts (None if unknown)."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return None
    found = _model_of(tp)
    if found is None:
        return None
    return [f.alias or name for name, f in found.model_fields.items()]


def _step(tp: Any, part: str | int) -> Any:
    found = _model_of(tp)
    if found is not None:
        for name, f in found.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None or not args:
        return None
    if isinstance(part, int):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return args[part] if part < len(args) else None
        return args[0]
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return args[-1]
    return None


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> X; ``X | None`` -> X (other unions stay as they are)."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            arms = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(arms) == 1:
                tp = arms[0]
                continue
        return tp


def _model_of(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return None
