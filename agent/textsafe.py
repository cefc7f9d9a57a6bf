"""Text from outside made safe to print: what people typed (a silence's reason, an ack's
comment) and what servers and plugins sent (a banner, a plugin's output).

Such text is shown later, in terminals, the journal and notifications: a line break in it
would forge a line of output, an escape sequence (``\\x1b[2J``) would act on the reader's
terminal. Commands refuse it when it is typed (``control_problem``); everything else is
shown with those characters written out (``visible``).
"""

from __future__ import annotations


def _unsafe(ch: str) -> bool:
    # Python's "not printable": the C0 and C1 controls (tab, line breaks, ESC, DEL), the
    # line and paragraph separators, format characters (bidi overrides, which reorder
    # what follows, and zero-width ones), anything unassigned; a space is printable.
    return not ch.isprintable()


def _escaped(ch: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    code = ord(ch)
    return (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
            else f"\\U{code:08x}")


def visible(text: str) -> str:
    """``text`` with each character that is not printable written out (``\\n``,
    ``\\x1b``, ``\\u202e``), so it prints on one line and does nothing to the terminal;
    a backslash stays as it is."""
    if text.isprintable():
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


def shortened(text: str, most: int = 60) -> str:
    """``text``, cut to ``most`` characters ending in ``...`` when it is longer."""
    return text if len(text) <= most else text[:most - 3] + "..."
