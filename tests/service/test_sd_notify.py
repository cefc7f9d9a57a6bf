"""The systemd notification protocol: what is sent where, and nothing without a socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sd_notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def fields(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_status_and_stopping_reach_the_socket(
        listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.ready("3 checks, 0 alerts open, 0 queued")
    assert fields(sock) == {"READY": "1", "STATUS": "3 checks, 0 alerts open, 0 queued"}
    assert n.status("a\nb")
    assert fields(sock) == {"STATUS": "a b"}
    n.stopping()
    assert fields(sock)["STOPPING"] == "1"
    n.reloading()
    got = fields(sock)
    assert got["RELOADING"] == "1" and int(got["MONOTONIC_USEC"]) > 0
    n.close()


def test_an_abstract_socket_name_is_understood() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"watchkeeper-test-{os.getpid()}"
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert fields(sock) == {"WATCHDOG": "1"}
    finally:
        sock.close()


@pytest.mark.parametrize(("env", "enabled"), [
    ({}, False), ({"NOTIFY_SOCKET": ""}, False), ({"NOTIFY_SOCKET": "relative"}, False),
    ({"NOTIFY_SOCKET": "/run/systemd/notify"}, True), ({"NOTIFY_SOCKET": "@x"}, True),
])
def test_without_a_usable_socket_nothing_is_sent(env: dict[str, str], enabled: bool) -> None:
    n = Notifier(env)
    assert n.enabled is enabled
    if not enabled:
        assert not n.ready("x")


def test_a_socket_nobody_listens_on_is_not_an_error(tmp_path: Path) -> None:
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ready("x")


@pytest.mark.parametrize(("env", "interval"), [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
])
def test_the_watchdog_interval_is_half_of_what_systemd_asks(
        env: dict[str, str], interval: float | None) -> None:
    assert Notifier(env).watchdog_interval == interval
