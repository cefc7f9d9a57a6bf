"""The listener's connection policy as tables: deadlines per phase, whom a new connection
pushes out, what counts as one client, and the open files the listener asks for."""

from __future__ import annotations

import pytest

from agent.listener_policy import (
    Admission,
    ConnectionLimits,
    ConnectionTable,
    Phase,
    client_key,
    open_files_target,
)

LIMITS = ConnectionLimits(request_timeout=5, idle_timeout=7, answer_timeout=30, linger=1,
                          per_client=3, total=5)

W, B, H, ID, C = Phase.WAITING, Phase.BODY, Phase.HANDLING, Phase.IDLE, Phase.CLOSING
A, Z = "10.0.0.1", "10.0.0.2"


@pytest.mark.parametrize(("phase", "deadline"), [
    (W, 105), (B, 105), (H, 130), (ID, 107), (C, 101),
])
def test_each_phase_has_its_deadline(phase: Phase, deadline: float) -> None:
    assert LIMITS.deadline(phase, 100.0) == deadline


def table(*conns: tuple[int, str, Phase, float]) -> ConnectionTable:
    t = ConnectionTable(LIMITS)
    for conn, client, phase, since in conns:
        assert t.open(conn, client, since).admitted
        t.move(conn, phase, since)
    return t


@pytest.mark.parametrize(("existing", "client", "admission"), [
    # Room: nobody goes.
    ([], A, Admission(True)),
    ([(1, A, W, 1), (2, A, ID, 2)], A, Admission(True)),
    # The client is at its bound: its oldest waiting connection goes, not another's.
    ([(1, Z, W, 0), (2, A, W, 1), (3, A, W, 2), (4, A, W, 3)], A, Admission(True, (2,))),
    # Idle and half-sent connections go by age, whichever kind.
    ([(1, A, ID, 5), (2, A, W, 3), (3, A, ID, 4)], A, Admission(True, (2,))),
    # An answered (closing) connection goes before older idle ones.
    ([(1, A, ID, 1), (2, A, W, 2), (3, A, C, 9)], A, Admission(True, (3,))),
    # One sending its body (its token was right) goes after every idle one.
    ([(1, A, B, 1), (2, A, W, 8), (3, A, H, 0)], A, Admission(True, (2,))),
    ([(1, A, B, 1), (2, A, H, 8), (3, A, H, 0)], A, Admission(True, (1,))),
    # A request being answered is never dropped: with nothing else, the new one waits out.
    ([(1, A, H, 1), (2, A, H, 2), (3, A, H, 3)], A, Admission(False)),
    # The listener is full: the oldest waiting connection of any client goes.
    ([(1, A, H, 0), (2, Z, W, 1), (3, Z, ID, 2), (4, A, W, 3), (5, Z, H, 4)], "10.0.0.3",
     Admission(True, (2,))),
    # Both bounds at once: dropping one of the client's own makes room in all.
    ([(1, A, W, 5), (2, A, W, 6), (3, A, W, 7), (4, Z, W, 1), (5, Z, H, 0)], A,
     Admission(True, (1,))),
])
def test_a_new_connection_pushes_out_the_oldest_waiting_one(
        existing: list[tuple[int, str, Phase, float]], client: str,
        admission: Admission) -> None:
    t = table(*existing)
    assert t.open(99, client, 10.0) == admission
    for gone in admission.evict:
        assert t.phase(gone) is None
    assert (t.phase(99) is W) == admission.admitted
    assert t.count(client) <= LIMITS.per_client and len(t) <= LIMITS.total


def test_a_flood_from_one_client_keeps_it_at_its_bound_and_the_newest_in() -> None:
    t = ConnectionTable(LIMITS)
    for conn in range(1000):
        assert t.open(conn, A, float(conn)).admitted
    assert t.count(A) == LIMITS.per_client
    assert [t.phase(c) for c in (996, 997, 998, 999)] == [None, W, W, W]


def test_closing_forgets_a_connection_once() -> None:
    t = table((1, A, W, 0), (2, A, H, 0))
    t.close(1)
    t.close(1)
    t.move(1, ID, 5)  # a late move of a gone connection changes nothing
    assert (t.phase(1), t.phase(2), t.count(A), len(t)) == (None, H, 1, 1)
    t.close(2)
    assert (t.count(A), len(t)) == (0, 0)


def test_making_room_drops_the_oldest_waiting_connection_of_all() -> None:
    t = table((1, A, H, 0), (2, Z, ID, 3), (3, A, W, 2))
    assert t.make_room() == 3
    assert t.make_room() == 2
    assert t.make_room() is None
    assert len(t) == 1


@pytest.mark.parametrize(("host", "client"), [
    ("127.0.0.1", "127.0.0.1"),
    ("::ffff:10.1.2.3", "10.1.2.3"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::1", "::/64"),
    ("not an address", "not an address"),
])
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(host: str, client: str) -> None:
    assert client_key(host) == client


@pytest.mark.parametrize(("open_files", "total", "per_client"), [
    (20000, 1024, 128), (2048, 1024, 128), (1024, 512, 128), (100, 50, 50), (10, 8, 8),
])
def test_the_bounds_fit_in_half_the_open_files(open_files: int, total: int,
                                               per_client: int) -> None:
    limits = ConnectionLimits().within_open_files(open_files)
    assert (limits.total, limits.per_client) == (total, per_client)


@pytest.mark.parametrize(("soft", "hard", "target"), [
    (1024, 524288, 4096),  # raised to what is wanted, not to the hard limit
    (1024, 2048, 2048),  # as far as the hard limit allows
    (1024, -1, 4096),  # no hard limit
    (1024, 1024, 1024),  # nothing to raise
    (65536, 524288, 65536),  # never lowered
])
def test_the_open_files_limit_asked_for(soft: int, hard: int, target: int) -> None:
    assert open_files_target(soft, hard, 4096) == target
