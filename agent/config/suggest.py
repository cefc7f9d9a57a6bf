""""Did you mean" for misspelt keys, kinds, metrics and channel names."""

from __future__ import annotations

from collections.abc import Iterable

#: Words longer than this get no suggestion (and are cut when quoted): nobody misspells
#: a key that long, and comparing one costs time.
_LONGEST = 64
#: Candidates compared at most, the ones closest in length first.
_MOST_CANDIDATES = 500


def quoted(word: str) -> str:
    """``repr(word)``, cut when very long."""
    if len(word) > _LONGEST:
        return f"{word[:_LONGEST - 20]!r}... ({len(word):,} characters)"
    return repr(word)


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when nothing is close enough.

    Case is ignored; a candidate that ``word`` is a clear prefix of (``repeat`` for
    ``repeat_interval``) counts as close even when difflib's ratio is low.
    """
    pool = sorted(set(candidates))
    if not pool or not word or len(word) > _LONGEST:
        return None
    if len(pool) > _MOST_CANDIDATES:
        pool = sorted(sorted(pool, key=lambda c: abs(len(c) - len(word)))[:_MOST_CANDIDATES])
    by_lower = {c.lower(): c for c in pool}
    lowered = word.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    import difflib  # only for a config with a mistake in it

    close = difflib.get_close_matches(lowered, list(by_lower), n=1, cutoff=0.6)
    if close:
        return by_lower[close[0]]
    if len(lowered) >= 3:
        prefixed = [c for c in pool if c.lower().startswith(lowered)]
        if len(prefixed) == 1:
            return prefixed[0]
    return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or the empty string."""
    best = suggest(word, candidates)
    return f"; did you mean {best!r}?" if best is not None else ""


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    """``unknown key 'treshold'; did you mean 'thresholds'?``.

    Without a close match the allowed keys are listed instead, so the user still learns
    what would have been accepted.
    """
    pool = sorted(set(allowed))
    hint = did_you_mean(key, pool)
    if hint:
        return f"unknown key {quoted(key)}{hint}"
    if pool:
        return f"unknown key {quoted(key)} (allowed: {', '.join(pool)})"
    return f"unknown key {quoted(key)}"
