"""Messages name what a check watches (its URL, host:port or path), as its kind says,
never with the credentials that reach it; every routed event carries it."""

from __future__ import annotations

import pytest

from agent.alerting.settle import Routing
from agent.alerting.state import AlertEvent, EventKind
from agent.config.loader import parse_config
from agent.model import AlertKey, Status
from agent.notify.message import render
from agent.store.codec import event_from_json, event_to_json

HEAD = "agent: {host: web1, state_dir: /tmp/wk-where-test}\nchannels: {ops: ['log://']}\n"


@pytest.mark.parametrize(("check", "where"), [
    ("{kind: http, url: 'https://shop.example.com/cart?lang=en'}",
     "https://shop.example.com/cart?lang=en"),
    # Credentials in the URL move to basic_auth; a token in its query is masked.
    ("{kind: http, url: 'https://bob:Hunter2pw@shop.example.com/h?api_key=abc123def456'}",
     "https://shop.example.com/h?api_key=****"),
    # A token in the path (a webhook's, a ping URL's) is masked too.
    ("{kind: http, url: 'https://hc.example.com/ping/4f9c2e1ab7d34c0e9a1f/status'}",
     "https://hc.example.com/ping/****/status"),
    ("{kind: tcp, host: db.example.com, port: 5432}", "db.example.com:5432"),
    ("{kind: tcp, host: '::1', port: 6379}", "[::1]:6379"),
    ("{kind: tls, host: mail.example.com, starttls: smtp}", "mail.example.com:25"),
    ("{kind: tls, host: shop.example.com}", "shop.example.com:443"),
    ("{kind: dns, query: shop.example.com, resolvers: ['127.0.0.1:5353']}",
     "shop.example.com A @ 127.0.0.1:5353"),
    ("{kind: dns, query: example.com, type: MX}", "example.com MX @ resolv.conf"),
    ("{kind: database, engine: postgres, dsn: 'postgresql://app:S3cretPw@db1:5433/shop'}",
     "db1"),   # the hosts a kind reaches, when it says no more
    ("{kind: database, engine: redis, host: cache1}", "cache1"),
    ("{kind: disk, path: /var}", "/var"),
    ("{kind: disk, all: true}", None),
    ("{kind: backup, path: /srv/backups}", "/srv/backups"),
    ("{kind: memory}", None),
    ("{kind: systemd, unit: nginx.service}", "unit nginx.service"),
    ("{kind: systemd, failed_units: true}", None),
    ("{kind: process, process_name: nginx}", "process nginx"),
    ("{kind: process, pidfile: /run/nginx.pid}", "pidfile /run/nginx.pid"),
    ("{kind: process, cmdline: 'java .*--token=abc'}", None),
])
def test_each_kind_names_what_it_watches_without_its_credentials(check: str,
                                                                 where: str | None) -> None:
    config = parse_config(HEAD + f"checks:\n  - {{name: c, {check[1:-1]}}}\n")
    routing = Routing.of(config)
    assert routing.wheres.get("c") == where
    event = AlertEvent(EventKind.FIRING, AlertKey("web1", "c", "status"), Status.CRITICAL,
                       1.0, "inc-1", "down", seq=1)
    routed = routing.annotate(event)
    assert routed.where == where
    text = render(routed).body
    assert "Hunter2pw" not in text and "S3cretPw" not in text and "abc123def456" not in text


def test_what_a_check_watches_survives_the_outbox() -> None:
    event = AlertEvent(EventKind.FIRING, AlertKey("web1", "c", "status"), Status.CRITICAL,
                       1.0, "inc-1", "down", seq=1, where="db1:5432")
    assert event_from_json(event_to_json(event)) == event
    bare = AlertEvent(EventKind.FIRING, AlertKey("web1", "c", "status"), Status.CRITICAL,
                      1.0, "inc-1", "down", seq=1)
    assert "where" not in event_to_json(bare)


def test_a_check_no_longer_configured_keeps_what_its_event_said() -> None:
    event = AlertEvent(EventKind.RESOLVED, AlertKey("web1", "gone", "status"), Status.OK,
                       1.0, "inc-1", "ok", seq=2, where="https://old.example/")
    assert Routing(wheres={"other": "x"}).annotate(event).where == "https://old.example/"
