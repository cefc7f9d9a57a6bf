"""Text people typed, made safe to print on a terminal: a silence's reason, an ack's comment.

Such text is shown later by other commands, in other terminals: a line break in it would
forge a line of output, an escape sequence (``\\x1b[2J``) would act on the reader's
terminal. Commands refuse it when it is typed (``control_problem``); what a store already
holds is shown with those characters written out (``visible``).
"""

from __future__ import annotations

#: Characters that reorder the text after them on a terminal (bidi embeddings, overrides
#: and isolates), so what is shown is not what is stored.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(ch: str) -> bool:
    # Unicode's Cc (the C0 controls: tab, line breaks, ESC; DEL; the C1 controls), Zl and
    # Zp (the line and paragraph separators some viewers break lines on), spelled out:
    # unicodedata would stay in the agent's memory for good.
    return ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029" or ch in _BIDI


def _escaped(ch: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def visible(text: str) -> str:
    """``text`` with each control character written out (``\\n``, ``\\x1b``, ``\\u202e``),
    so it prints on one line and does nothing to the terminal; a backslash stays as it
    is."""
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(_escaped(ch) if _unsafe(ch) else ch for ch in text)


def control_problem(text: str) -> str | None:
    """Why ``text`` cannot be kept to show later: it holds a control character (a line
    break, a tab, an escape); None when it is fine."""
    for ch in text:
        if _unsafe(ch):
            return (f"holds the control character {_escaped(ch)}; write it on one line, "
                    "without tabs or escape sequences")
    return None
