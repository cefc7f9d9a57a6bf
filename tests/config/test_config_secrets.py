"""The log scrubber hides exactly the secret parts of configured URLs, DSNs and tokens.

The URLs are real Apprise URLs, judged by the real Apprise child: what is secret is what
each plugin's private form hides (plus passwords and secret query values), so the
scrubber never masks an ordinary word of a log line (a topic, a path, a channel name).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.check import load_kind
from agent.config import Config, load_config
from agent.config.full import check_channel_urls, secret_parts
from agent.logs import SecretScrubber
from agent.notify.masking import fallback_form

#: (URL, its secret parts, how it is shown)
URLS = [
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
     ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"], "slack://****/****/****/#ops"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
     ["4174216298", "JHMHI8qBe7bk2ZwO5U711o3dV_js"], "discord://****/****"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",
     ["123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
     "tgram://****/-100123"),
    ("pagerduty://a1b2c3d4e5f6a7b8c9d0@e5f6a7b8c9d0a1b2c3d4",
     ["a1b2c3d4e5f6a7b8c9d0", "e5f6a7b8c9d0a1b2c3d4"], "pagerduty://****@****"),
    ("opsgenie://0a1b2c3d-4e5f-6789-abcd-ef0123456789",
     ["0a1b2c3d-4e5f-6789-abcd-ef0123456789"], "opsgenie://****"),
    ("mailto://alerts:Hunter2Pass@smtp.example.com:587?to=ops@example.com",
     ["Hunter2Pass"], "mailto://alerts:****@smtp.example.com:587?to=ops@example.com"),
    ("json://127.0.0.1:8080/state/channel?token=Tok3nValue",
     ["Tok3nValue"], "json://127.0.0.1:8080/state/channel?token=****"),
    ("ntfys://ntfyuser:NtfyPass99@ntfy.example.com/alerts",
     ["NtfyPass99"], "ntfys://ntfyuser:****@ntfy.example.com/alerts"),
    ("ntfy://ntfy.sh/website?token=tk_abcdef123",
     ["tk_abcdef123"], "ntfy://ntfy.sh/website?token=****"),
]

DSN_PASSWORD = "DbPass4242"
TOKEN = "ListenerTok3n0123"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("secrets") / "config.yaml"
    urls = "\n".join(f"    - '{url}'" for url, _, _ in URLS)
    path.write_text(f"""
agent:
  listen: 127.0.0.1:9110
  token: {TOKEN}
channels:
  ops:
{urls}
checks:
  - name: db
    kind: database
    engine: postgres
    dsn: postgresql://monitor:{DSN_PASSWORD}@127.0.0.1:5432/app
""")
    return load_config(path, env={}, resolve_kind=load_kind, judge_urls=check_channel_urls)


@pytest.fixture(scope="module")
def scrubber(config: Config) -> SecretScrubber:
    s = SecretScrubber()
    s.add(secret_parts(config))
    return s


@pytest.mark.parametrize(("url", "secrets", "shown"), URLS,
                         ids=[u.split(":")[0] for u, _, _ in URLS])
def test_each_url_is_shown_and_scrubbed_by_apprises_account(
        config: Config, scrubber: SecretScrubber, url: str, secrets: list[str],
        shown: str) -> None:
    assert config.url_forms[url].shown == shown
    line = f"sending to {url} failed"
    assert scrubber.scrub(line) == f"sending to {shown} failed"
    for secret in secrets:
        assert scrubber.scrub(f"the service said: bad key {secret}.") == \
            "the service said: bad key ****."


@pytest.mark.parametrize("line", [
    "state in /var/lib/watchkeeper/state-dir",
    "notification 12 to channel ops #0 (slack://****/****/****/#ops) sent",
    "check website: OK - 200 in 35 ms",
    "check db: OK - postgres at 127.0.0.1:5432 up as monitor, database app",
    "ntfy topic alerts on ntfy.example.com answered 200 for ntfyuser",
    "mail to ops@example.com through smtp.example.com:587 as alerts",
    "json hook POST 127.0.0.1:8080/state/channel answered 503",
    "telegram chat -100123, pagerduty Apprise Notification, opsgenie team",
])
def test_no_ordinary_word_is_masked(scrubber: SecretScrubber, line: str) -> None:
    assert scrubber.scrub(line) == line


def test_a_dsn_gives_its_password_and_the_listener_its_token(scrubber: SecretScrubber) -> None:
    line = (f"connect postgresql://monitor:{DSN_PASSWORD}@127.0.0.1:5432/app failed; "
            f"token {TOKEN} refused")
    assert scrubber.scrub(line) == ("connect postgresql://monitor:****@127.0.0.1:5432/app "
                                    "failed; token **** refused")


def test_without_apprise_only_sure_secrets_are_registered(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("channels:\n  ops:\n    - ntfys://user:NtfyPass99@ntfy.example.com/alerts\n"
                    "    - slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops\n")
    config = load_config(path, env={}, resolve_kind=load_kind)
    s = SecretScrubber()
    s.add(secret_parts(config))
    assert s.scrub("NtfyPass99 topic alerts via T1JJ3T3L2") == "**** topic alerts via ****"
    assert fallback_form(config.channels["ops"].urls[0]).shown == \
        "ntfys://user:****@ntfy.example.com/****"


@pytest.mark.parametrize("url", [
    "mailtos://alerts:RoutePass77@smtp.example.com:587",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
])
def test_a_url_written_where_a_route_names_a_channel_is_not_echoed(
        tmp_path: Path, url: str) -> None:
    from agent.errors import ConfigError
    path = tmp_path / "config.yaml"
    path.write_text(f"""
channels:
  ops: log://
routes:
  - channels: [ops, '{url}']
  - channels: [ops]
    escalate:
      - {{after: 15m, channels: ['{url}']}}
""")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, resolve_kind=load_kind)
    text = "\n".join(str(i) for i in caught.value.issues)
    assert len(caught.value.issues) == 2
    for secret in ("RoutePass77", "TIiajkdnlazkcOXrIdevi7FQ", "A1BRTD4JD", "T1JJ3T3L2"):
        assert secret not in text
    assert "where a channel's name belongs" in text
