"""``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` substitution in config strings.

Substituted values often are secrets (an Apprise token, a database password), so every
string that received one is remembered by path: error messages then name the source
(``${API_TOKEN}``) instead of echoing the value. ``$${`` stands for a literal ``${``.
A relative ``${file:...}`` path is read relative to the config file's directory.

Substitution is bounded like the document (``agent.config.limits``): a secret file must be
a regular file of at most 64 KiB, references nest at most 16 deep, and all substitutions
together add at most 1 MiB, so a small file cannot grow into a large one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config.limits import (
    MAX_SECRET_FILE_BYTES,
    MAX_SUBSTITUTED_CHARS,
    MAX_SUBSTITUTION_DEPTH,
    MAX_TEXT_CHARS,
)
from agent.config.suggest import quoted
from agent.config.text_files import FileRefusedError, read_text_file
from agent.config.yaml_bounds import text_problem
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


class Budget:
    """What the substitutions of one document may still add, and the secret files read
    so far (each file is read once however often it is named)."""

    def __init__(self, chars: int = MAX_SUBSTITUTED_CHARS) -> None:
        self.left = chars
        self.files: dict[Path, str | FileRefusedError | UnicodeDecodeError] = {}


def interpolate_tree(data: Any, env: Mapping[str, str], base_dir: Path) -> InterpolatedTree:
    """Substitute in every string value of ``data`` (mapping keys are left alone)."""
    tree = InterpolatedTree(None)
    budget = Budget()

    def walk(value: Any, path: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            result = interpolate(value, env, base_dir, budget)
            if result.sources:
                tree.sources[path] = result.sources
            tree.problems.extend((path, e) for e in result.errors)
            return result.value
        return value

    tree.data = walk(data, ())
    return tree


def interpolate(text: str, env: Mapping[str, str], base_dir: Path,
                budget: Budget | None = None) -> Substituted:
    """Substitute the references in one string (``budget``: what the document's
    substitutions may still add; a fresh one when not given)."""
    sub = _Substitution(env, base_dir, budget or Budget())
    value = sub.expand(text, 1)
    if not sub.errors and len(value) > MAX_TEXT_CHARS:
        sub.errors.append(f"the value is longer than {MAX_TEXT_CHARS:,} characters once "
                          f"substituted ({len(value):,})")
    if sub.errors:
        return Substituted(text, tuple(sub.sources), tuple(sub.errors))
    return Substituted(value, tuple(sub.sources))


class _Substitution:
    def __init__(self, env: Mapping[str, str], base_dir: Path, budget: Budget) -> None:
        self.env = env
        self.base_dir = base_dir
        self.budget = budget
        self.sources: list[str] = []
        self.errors: list[str] = []

    def expand(self, text: str, depth: int) -> str:
        if depth > MAX_SUBSTITUTION_DEPTH:
            self.errors.append(f"references nested more than {MAX_SUBSTITUTION_DEPTH} deep")
            return ""
        out: list[str] = []
        i = 0
        while i < len(text) and self.budget.left >= 0:
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
                out.append(self._charge(self._resolve(text[j + 2:end], depth)))
                i = end + 1
            else:
                out.append("$")
                i = j + 1
        return "".join(out)

    def _charge(self, value: str) -> str:
        """Count what a reference adds against the document's budget."""
        self.budget.left -= len(value)
        if self.budget.left < 0:
            self.errors.append(f"substitutions add more than {MAX_SUBSTITUTED_CHARS:,} "
                               "characters to the config")
            return ""
        return value

    def _resolve(self, inner: str, depth: int) -> str:
        if inner.startswith(_FILE_PREFIX):
            return self._read_file(inner[len(_FILE_PREFIX):], depth)
        m = _VARIABLE.fullmatch(inner)
        if m is None:
            self.errors.append(f"bad substitution '${{{inner}}}'; write ${{VAR}}, "
                               "${VAR:-default} or ${file:/path}")
            return ""
        name, default = m.group(1), m.group(2)
        self._note(f"${{{name}}}")
        value = self.env.get(name)
        if default is not None and not value:
            return self.expand(default, depth + 1)
        if value is None:
            self.errors.append(f"environment variable {quoted(name)} is not set")
            return ""
        problem = text_problem(value)
        if problem is not None:
            self.errors.append(f"environment variable {quoted(name)} {problem}")
            return ""
        return value

    def _read_file(self, written: str, depth: int) -> str:
        self._note(f"${{file:{written}}}")
        before = len(self.errors)
        name = self.expand(written, depth + 1).strip()
        if len(self.errors) > before:
            return ""
        if not name:
            self.errors.append("'${file:}' needs a file path, like ${file:/run/secrets/token}")
            return ""
        problem = text_problem(name)
        if problem is not None:
            self.errors.append(f"the path of a secret file {problem}")
            return ""
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        content = self._content(path)
        if content is None:
            return ""
        problem = text_problem(content)
        if problem is not None:
            self.errors.append(f"secret file '{path}' {problem}")
            return ""
        # Exactly one trailing newline goes: editors add it, a secret rarely ends in one.
        if content.endswith("\r\n"):
            return content[:-2]
        return content.removesuffix("\n")

    def _content(self, path: Path) -> str | None:
        """The text of a secret file (read once per document), or None with the error."""
        if path not in self.budget.files:
            try:
                self.budget.files[path] = read_text_file(path, MAX_SECRET_FILE_BYTES)
            except (FileRefusedError, UnicodeDecodeError) as e:
                self.budget.files[path] = e
        found = self.budget.files[path]
        if isinstance(found, FileRefusedError):
            self.errors.append(f"cannot read secret file '{path}': {found.reason}")
            return None
        if isinstance(found, UnicodeDecodeError):
            self.errors.append(f"secret file '{path}' is not UTF-8 text")
            return None
        return found

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
