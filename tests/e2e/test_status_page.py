"""The status page in a real headless Chromium: served by a running agent on ``/status``
(no token, while the rest of the listener needs one), written as static files by
``watchkeeper status-page``, and built from a known history: the DOM Chromium made shows
the right states, percentages, days and incidents, nothing of the checks not public, no
markup from names, and the screenshots are the page, in light and in dark."""

from __future__ import annotations

import time

import httpx
import pytest

from agent.alerting.state import Phase
from agent.model import Status
from agent.status_page.build import build_page
from agent.status_page.site import write_site
from agent.status_page.sources import history_source
from agent.store import Store
from tests.chromium import Element, Shot, parse, png_pixel, png_size, render
from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.ports import free_port
from tests.status_page.history_fake import FakeHistory
from tests.status_page.test_build import DAY, NOW, incident, snapshot, state

pytestmark = pytest.mark.slow

HOSTILE = 'Shop <script>alert(1)</script><img src=x onerror="alert(2)">'
PRIVATE = "internal-ledger-db-q7"
PHONE = (390, 844)
DESKTOP = (1100, 1600)


def checks(doc: Element) -> dict[str, Element]:
    return {c.attrs["data-check"]: c for c in doc.find_all("li", class_="check")}


def uptimes(card: Element) -> list[str]:
    return [dd.words for dd in card.find_all("dd")]


def day_states(card: Element) -> list[str]:
    return [d.attrs["class"].split()[1] for d in card.find_all("li", class_="day")]


# -- a known history, as static files -------------------------------------------------


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shot, Shot]:
    """The page of a known history, seen on a phone (light) and on a desktop (dark)."""
    history = FakeHistory(
        uptimes={HOSTILE: {DAY: 1.0, 30 * DAY: 0.99931, 90 * DAY: 0.9981},
                 "payments": {DAY: 0.75, 30 * DAY: 0.98, 90 * DAY: 0.9934}},
        days={HOSTILE: [*[1.0] * 87, 0.97, None, 1.0],
              "payments": [None] * 60 + [1.0] * 28 + [0.5, 0.75]},
        response={HOSTILE: [120.0, 140.0, 180.0, None, 160.0, 130.0]})
    snap = snapshot(
        state("payments", Phase.FIRING, Status.CRITICAL, f"connection refused by {PRIVATE}"),
        incidents=(
            incident(1, "payments", opened=NOW - 5400, lasted=None,
                     why=f"connection refused by {PRIVATE} </p><script>alert(3)</script>"),
            incident(2, HOSTILE, opened=NOW - 3 * DAY, lasted=1740, worst=Status.WARNING,
                     why="response_ms 2.4s > 1s"),
            incident(3, PRIVATE, opened=NOW - DAY, lasted=60)),
        public=(HOSTILE, "payments"), private=(PRIVATE,),
        ran=frozenset({HOSTILE, "payments"}))
    out = tmp_path_factory.mktemp("site")
    write_site(out, build_page(snap, history, NOW, title="Acme status"))
    url = (out / "index.html").as_uri()
    return (render(url, width=PHONE[0], height=PHONE[1]),
            render(url, width=DESKTOP[0], height=DESKTOP[1], dark=True))


def test_the_dom_shows_the_states_and_percentages_of_the_history(known: tuple[Shot, Shot]
                                                                ) -> None:
    doc = parse(known[0].dom)
    assert doc.find("h1").words == "Acme status"
    overall = doc.find(id="overall")
    assert (overall.attrs["data-state"], overall.words) == ("down", "Some systems down")
    shop, payments = checks(doc).values()
    assert (shop.attrs["data-state"], shop.find("span", class_="state").words) == (
        "up", "Operational")
    assert (payments.attrs["data-state"], payments.find("span", class_="state").words) == (
        "down", "Down")
    assert uptimes(shop) == ["100%", "99.93%", "99.81%"]
    assert uptimes(payments) == ["75.00%", "98.00%", "99.34%"]
    assert day_states(shop) == ["up"] * 87 + ["degraded", "no_data", "up"]
    assert day_states(payments) == ["no_data"] * 60 + ["up"] * 28 + ["down", "down"]
    days = shop.find_all("li", class_="day")
    assert days[-3].attrs["title"] == "2025-11-29: 97.00% up"
    assert days[-3].find("span", class_="sr").words == "2025-11-29: 97.00% up"
    assert days[-2].attrs["title"] == "2025-11-30: no data"
    svg = shop.find("svg")
    assert svg.attrs["aria-label"] == ("Response time, last 24 h: average 146ms, highest "
                                       "180ms, latest 130ms")
    assert len(svg.find_all("polyline")) == 2  # the gap breaks the line
    assert shop.find("figcaption").words == "avg 146ms · latest 130ms"
    assert payments.find_all("svg") == []


def test_the_dom_lists_the_incidents_with_their_durations(known: tuple[Shot, Shot]) -> None:
    doc = parse(known[0].dom)
    listed = doc.find_all("li", class_="incident")
    assert [i.attrs["data-incident"] for i in listed] == ["i001", "i002"]
    ongoing, resolved = listed
    assert ongoing.attrs["data-state"] == "open"
    assert ongoing.find("span", class_="state").words == "Outage, ongoing"
    assert ongoing.find("p", class_="when").words == \
        "Started 2025-12-01 13:09 UTC, ongoing for 1h 31m"
    assert resolved.find("p", class_="when").words == \
        "Started 2025-11-28 14:39 UTC, resolved 15:09 UTC after 30m"
    assert resolved.find("span", class_="state").words == "Degraded performance, resolved"


def test_names_and_reasons_stay_text_in_the_browser(known: tuple[Shot, Shot]) -> None:
    doc = parse(known[0].dom)
    assert doc.find_all("script") == [] and doc.find_all("img") == []
    assert doc.find("li", class_="check", data_check=HOSTILE).find("h3").words == HOSTILE
    assert doc.find("li", data_incident="i001").find("p", class_="why").words == \
        "connection refused by another check </p><script>alert(3)</script>"


def test_a_check_not_public_appears_nowhere(known: tuple[Shot, Shot]) -> None:
    for shot in known:
        assert PRIVATE not in shot.dom
        assert "i003" not in shot.dom


def test_the_screenshots_are_the_page_in_light_and_in_dark(known: tuple[Shot, Shot]) -> None:
    phone, desktop = known
    assert png_size(phone.png) == PHONE and png_size(desktop.png) == DESKTOP
    assert len(phone.png) > 10_000  # a page drawn, not a blank
    light, dark = png_pixel(phone.png, 2, 2), png_pixel(desktop.png, 2, 2)
    assert min(light) > 200, f"light background {light}"
    assert max(dark) < 60, f"dark background {dark}"


# -- a running agent, and the static copy of its state ---------------------------------

TOKEN = "e2e-status-token-0123456789"
CONFIG = AGENT + """  listen: {listen}
  token: {token}
checks:
  - name: "{hostile}"
    kind: http
    url: {web}
    public: true
  - name: payments
    kind: tcp
    host: 127.0.0.1
    port: {closed}
    public: true
  - name: {private}
    kind: tcp
    host: 127.0.0.1
    port: {closed}
"""


def test_a_running_agent_serves_the_page_and_the_command_writes_it(agents: Agents) -> None:
    port = agents.port
    agent = agents.start(CONFIG, token=TOKEN, web=agents.receiver.url("/shop", scheme="http"),
                         closed=free_port(), private=PRIVATE,
                         hostile=HOSTILE.replace('"', '\\"'))
    agent.wait_for_first_cycle()
    url = f"http://127.0.0.1:{port}/status"

    def down() -> bool:
        page = httpx.get(url, timeout=5)
        return page.status_code == 200 and 'data-check="payments" data-state="down"' in page.text

    wait_until(down, timeout=20, what="payments down on /status")
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401

    live = parse(render(url).dom)
    seen = checks(live)
    assert list(seen) == [HOSTILE, "payments"]
    assert {n: c.attrs["data-state"] for n, c in seen.items()} == {HOSTILE: "up",
                                                                   "payments": "down"}
    assert live.find(id="overall").attrs["data-state"] == "down"
    assert [i.attrs["data-check"] for i in live.find_all("li", class_="incident")] == \
        ["payments"]
    assert live.find_all("script") == [] and live.find_all("img") == []

    out = agents.tmp / "site"
    done = cli("status-page", "-c", str(agents.config), "--out", str(out))
    assert done.returncode == 0, done.stderr
    # The same files Chromium renders above (``known``): read here as written.
    static = parse((out / "index.html").read_text())
    # A check that never failed ran if the history says so (nothing else saved tells).
    store = Store.open_readonly(agents.state)
    assert store is not None
    with store:
        known = history_source(store).uptime(HOSTILE, time.time() - DAY, time.time())
    assert {n: c.attrs["data-state"] for n, c in checks(static).items()} == {
        HOSTILE: "up" if known is not None else "no_data", "payments": "down"}
    assert [i.attrs["data-check"] for i in static.find_all("li", class_="incident")] == \
        ["payments"]
    for page in (live, static):
        assert PRIVATE not in page.text
    assert PRIVATE not in (out / "status.json").read_text()
    assert agent.stop() == 0

