"""``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` substitution in config strings.

Substituted values often are secrets (an Apprise token, a database password), so every
string that received one is remembered by path: error messages then name the source
(``${API_TOKEN}``) instead of echoing the value. ``$${`` stands for a literal ``${``.
A relative ``${file:...}`` path is read relative to the config file's directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config.yaml_lines import YamlPath

_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)
_FILE_PREFIX = "file:"


@dataclass(frozen=True, slots=True)
class Substituted:
    """One string after substitution.

    ``sources`` names what was substituted (``${API_TOKEN}``, ``${file:/run/x}``);
    ``errors`` says what could not be; when there are errors ``value`` is the string as
    written, so no half-substituted secret travels further.
    """

    value: str
    sources: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass
class InterpolatedTree:
    """A document after substitution, with where values were substituted or failed."""

    data: Any
    #: Paths of strings that received a substituted value -> what was substituted.
    sources: dict[YamlPath, tuple[str, ...]] = field(default_factory=dict)
    #: Substitutions that failed: (path, message). The message never holds a value.
    problems: list[tuple[YamlPath, str]] = field(default_factory=list)


def interpolate_tree(data: Any, env: Mapping[str, str], base_dir: Path) -> InterpolatedTree:
    """Substitute in every string value of ``data`` (mapping keys are left alone)."""
    tree = InterpolatedTree(None)
    tree.data = _walk(data, (), env, base_dir, tree)
    return tree


def _walk(value: Any, path: YamlPath, env: Mapping[str, str], base_dir: Path,
          tree: InterpolatedTree) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), env, base_dir, tree) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), env, base_dir, tree) for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value:
        result = interpolate(value, env, base_dir)
        if result.sources:
            tree.sources[path] = result.sources
        tree.problems.extend((path, e) for e in result.errors)
        return result.value
    return value


def interpolate(text: str, env: Mapping[str, str], base_dir: Path) -> Substituted:
    """Substitute the references in one string."""
    sub = _Substitution(env, base_dir)
    value = sub.expand(text)
    if sub.errors:
        return Substituted(text, tuple(sub.sources), tuple(sub.errors))
    return Substituted(value, tuple(sub.sources))


class _Substitution:
    def __init__(self, env: Mapping[str, str], base_dir: Path) -> None:
        self.env = env
        self.base_dir = base_dir
        self.sources: list[str] = []
        self.errors: list[str] = []

    def expand(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if text.startswith("$${", j):
                out.append("${")
                i = j + 3
            elif text.startswith("${", j):
                end = _closing_brace(text, j + 2)
                if end < 0:
                    self.errors.append("unclosed '${' (write '$${' for a literal '${')")
                    break
                out.append(self._resolve(text[j + 2:end]))
                i = end + 1
            else:
                out.append("$")
                i = j + 1
        return "".join(out)

    def _resolve(self, inner: str) -> str:
        if inner.startswith(_FILE_PREFIX):
            return self._read_file(inner[len(_FILE_PREFIX):])
        m = _VARIABLE.fullmatch(inner)
        if m is None:
            self.errors.append(f"bad substitution '${{{inner}}}'; write ${{VAR}}, "
                               "${VAR:-default} or ${file:/path}")
            return ""
        name, default = m.group(1), m.group(2)
        self._note(f"${{{name}}}")
        value = self.env.get(name)
        if default is not None and not value:
            return self.expand(default)
        if value is None:
            self.errors.append(f"environment variable {name!r} is not set")
            return ""
        return value

    def _read_file(self, written: str) -> str:
        self._note(f"${{file:{written}}}")
        name = self.expand(written).strip()
        if not name:
            self.errors.append("'${file:}' needs a file path, like ${file:/run/secrets/token}")
            return ""
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as e:
            self.errors.append(f"cannot read secret file '{path}': {e.strerror or e}")
            return ""
        except UnicodeDecodeError:
            self.errors.append(f"secret file '{path}' is not UTF-8 text")
            return ""
        # Exactly one trailing newline goes: editors add it, a secret rarely ends in one.
        if content.endswith("\r\n"):
            return content[:-2]
        return content.removesuffix("\n")

    def _note(self, source: str) -> None:
        if source not in self.sources:
            self.sources.append(source)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` that closes a ``${`` opened just before ``start``; -1 if none."""
    depth = 1
    k = start
    while k < len(text):
        if text.startswith("$${", k):
            k += 3
        elif text.startswith("${", k):
            depth += 1
            k += 2
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
            k += 1
        else:
            k += 1
    return -1
