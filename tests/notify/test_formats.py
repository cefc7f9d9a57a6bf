"""What each family of targets shows: golden files of the rendered text per family (email
text and HTML, chat markdown, SMS, plain), and the rules behind them as tables.

``UPDATE_GOLDEN=1 pytest tests/notify/test_formats.py`` rewrites the golden files; read the
diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.email_format import SUBJECT_MAX, html_part, subject, text_part
from agent.notify.formats import (
    SMS_MAX,
    BodyFormat,
    Family,
    family_of,
    for_family,
    gsm_safe,
    md_escape,
)
from agent.notify.message import cut_at_word, render, render_group, render_test
from agent.notify.protocol import WireMessage

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_700_000_000.0
WEB = AlertKey("shop1", "storefront", "status")
DISK = AlertKey("shop1", "disks", "used_percent", (("mount", "/var"),))
PORT = AlertKey("db1", "postgres-port", "status")

FIRING = AlertEvent(
    EventKind.FIRING, WEB, Status.CRITICAL, T0, "a1b2c3d4e5f6-1699999940",
    "connection refused", since=T0 - 60, seq=1, where="https://shop.example.com/cart",
    runbook="https://wiki.example.com/runbooks/storefront")
RESOLVED = AlertEvent(
    EventKind.RESOLVED, WEB, Status.OK, T0 + 300, "a1b2c3d4e5f6-1699999940",
    "200 OK in 41ms", since=T0 - 60, duration=300, previous_severity=Status.CRITICAL, seq=2,
    where="https://shop.example.com/cart",
    runbook="https://wiki.example.com/runbooks/storefront")
DISK_WARNING = AlertEvent(
    EventKind.FIRING, DISK, Status.WARNING, T0, "0f0e0d0c0b0a-1699996400",
    "used_percent 91.5 > 90 (*_all_* of it logs)", value=91.5, threshold="> 90",
    since=T0 - 3600, tags=("storage", "prod"), seq=1, where="/var")
ESCALATED = AlertEvent(
    EventKind.ESCALATED, PORT, Status.CRITICAL, T0, "99aa88bb77cc-1699999000",
    "connect timed out after 2s", since=T0 - 1000, previous_severity=Status.WARNING,
    dependents=("orders-api", "billing"), seq=3, where="10.0.0.5:5432",
    action="restarted postgresql (exit 0)")
#: Words that GSM's alphabet lacks, and a title that must be cut.
ACCENTED = AlertEvent(
    EventKind.FIRING, AlertKey("caf\u00e9-r\u00f4tisserie", "commandes\u2014en-ligne", "status"),
    Status.CRITICAL, T0, "123456abcdef-1700000000",
    "le serveur ne r\u00e9pond plus \u2192 d\u00e9lai d\u00e9pass\u00e9 apr\u00e8s 5 s "
    "sur la page de paiement", since=T0 - 30, seq=1, where="https://caf\u00e9.example/pay")

CASES: dict[str, WireMessage] = {
    "firing": WireMessage.of(render(FIRING)),
    "resolved": WireMessage.of(render(RESOLVED)),
    "disk_warning": WireMessage.of(render(DISK_WARNING)),
    "escalated": WireMessage.of(render(ESCALATED)),
    "accented": WireMessage.of(render(ACCENTED)),
    "group": WireMessage.of(render_group([FIRING, DISK_WARNING, ESCALATED, RESOLVED])),
    "test": WireMessage.of(render_test("shop1", T0)),
}


def _rendered(case: str, form: str) -> str:
    message = CASES[case]
    if form == "email.txt":
        return f"Subject: {subject(message)}\n\n{text_part(message)}"
    if form == "email.html":
        return html_part(message)
    family = {"chat.md": Family.CHAT, "sms.txt": Family.SMS, "plain.txt": Family.PLAIN}[form]
    shown = for_family(family, message)
    return f"title: {shown.title}\nformat: {shown.body_format.value}\n\n{shown.body}\n"


@pytest.mark.parametrize("form", ["email.txt", "email.html", "chat.md", "sms.txt",
                                  "plain.txt"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_family_renders_each_message_as_its_golden_file(case: str, form: str) -> None:
    path = GOLDEN / f"{case}.{form}"
    got = _rendered(case, form)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_sms_is_the_title_alone_in_gsm_characters_within_one_sms(case: str) -> None:
    shown = for_family(Family.SMS, CASES[case])
    assert shown.title == "" and shown.body_format is BodyFormat.TEXT
    assert len(shown.body) <= SMS_MAX and "\n" not in shown.body
    assert gsm_safe(shown.body) == shown.body


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_email_subject_is_under_80_characters_and_chat_titles_are_one_line(
        case: str) -> None:
    assert len(subject(CASES[case])) <= SUBJECT_MAX < 80
    chat = for_family(Family.CHAT, CASES[case])
    assert "\n" not in chat.title and chat.body_format is BodyFormat.MARKDOWN
    assert len(chat.body.splitlines()) <= 11


@pytest.mark.parametrize(("schema", "title_max", "body_max", "family"), [
    ("mailto", None, None, Family.EMAIL),
    ("MAILTOS", 250, 32768, Family.EMAIL),
    ("sendgrid", 250, 32768, Family.EMAIL_API),
    ("o365", 250, 32768, Family.EMAIL_API),
    ("slack", 0, 35000, Family.CHAT),
    ("tgram", 0, 4096, Family.CHAT),
    ("discord", 256, 2000, Family.CHAT),
    ("matrixs", 250, 65000, Family.CHAT),
    ("workflows", 0, 1000, Family.CHAT),
    ("twilio", 0, 160, Family.SMS),
    ("sns", 0, 160, Family.SMS),
    ("clickatell", 0, 160, Family.SMS),   # not listed: its plugin says it is one SMS
    ("json", 250, 32768, Family.PLAIN),
    ("pagerduty", 0, 0, Family.PLAIN),
    ("log", None, None, Family.PLAIN),
])
def test_the_family_of_a_target_comes_from_its_scheme_and_its_plugins_limits(
        schema: str, title_max: int | None, body_max: int | None, family: Family) -> None:
    assert family_of(schema, title_max, body_max) is family


@pytest.mark.parametrize(("text", "shown"), [
    ("CRITICAL web1 http: refused", "CRITICAL web1 http: refused"),
    ("caf\u00e9 \u00e0 Z\u00fcrich", "caf\u00e9 \u00e0 Z\u00fcrich"),   # GSM has these
    ("r\u00f4tisserie \u00ea\u00ee", "rotisserie ei"),                # accents GSM lacks
    ("wait\u2026 \u2014 \u201cok\u201d \u2192 done", 'wait... - "ok" -> done'),
    ("[a] {b} x|y ~z \\p", "(a) (b) x/y -z /p"),   # GSM's 2-character escapes
    ("\u4f60\u597d \U0001f525", "?? ?"),
])
def test_gsm_safe_text_keeps_an_sms_in_the_160_character_alphabet(text: str,
                                                                  shown: str) -> None:
    assert gsm_safe(text) == shown


@pytest.mark.parametrize(("text", "limit", "cut"), [
    ("short enough", 20, "short enough"),
    ("cut after a whole word here", 20, "cut after a whole..."),
    ("cut exactly at the space here", 18, "cut exactly at..."),
    ("a word ends where the cut is", 13, "a word..."),
    ("supercalifragilistic", 10, "superca..."),   # one word longer than the limit
    ("ends with a colon: then more", 22, "ends with a colon..."),
])
def test_cut_at_word_never_splits_a_word_unless_it_is_the_only_one(text: str, limit: int,
                                                                    cut: str) -> None:
    assert cut_at_word(text, limit) == cut
    assert len(cut_at_word(text, limit)) <= limit


def test_email_services_get_the_subject_and_the_html_table() -> None:
    shown = for_family(Family.EMAIL_API, CASES["firing"])
    assert shown.title == subject(CASES["firing"])
    assert (shown.body, shown.body_format) == (html_part(CASES["firing"]), BodyFormat.HTML)


def test_markdown_in_what_a_check_said_is_shown_literally() -> None:
    assert md_escape("used_percent *all* [x](y) <b> `c`") == \
        "used\\_percent \\*all\\* \\[x\\](y) \\<b\\> \\`c\\`"
