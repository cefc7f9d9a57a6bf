"""Real headless Chromium on a page of ours: the DOM it built and a screenshot of it.

One run of ``chromium --headless --dump-dom --screenshot`` gives both (about a second).
Outside CI a machine without Chromium skips the tests that need it; in CI (``CI=true``,
or the services ``.ci/run`` requires) they fail, so the browser is never silently left
out. The screenshot is read here too (a PNG's size and its pixels, with zlib alone).
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tests.promtool import debian_tool

INSTALL_HINT = "Chromium is not installed (Debian: apt-get install chromium)"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    """The Chromium executable; skips the test without it (fails it in CI)."""
    return debian_tool(("chromium", "chromium-browser", "google-chrome"), INSTALL_HINT)


@dataclass(frozen=True)
class Shot:
    """What Chromium made of a page: the DOM as it serialized it, and a screenshot."""

    dom: str
    png: bytes


def render(url: str, *, width: int = 1000, height: int = 1400, dark: bool = False,
           timeout: float = 60.0) -> Shot:
    """Load ``url`` (http:// on 127.0.0.1, or file://) in a fresh headless Chromium."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        shot = Path(tmp) / "shot.png"
        args = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--disable-background-networking", "--disable-sync", "--mute-audio",
                f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
                "--dump-dom", f"--screenshot={shot}"]
        if dark:
            args += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        done = subprocess.run([*args, url], capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
        assert shot.exists(), f"chromium made no screenshot: {done.stderr[-2000:]}"
        return Shot(done.stdout, shot.read_bytes())


# -- the screenshot ---------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height (AssertionError when it is not one)."""
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR", "a PNG without its header chunk first"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_pixel(data: bytes, x: int, y: int) -> tuple[int, int, int]:
    """The RGB colour of one pixel of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    width, _ = png_size(data)
    depth, colour, interlace = data[24], data[25], data[28]
    assert depth == 8 and colour in (2, 6) and interlace == 0, "an unexpected PNG flavour"
    channels = 3 if colour == 2 else 4
    raw, pos = bytearray(), 8
    while pos < len(data):
        (length,), chunk = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        if chunk == b"IDAT":
            raw += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(bytes(raw))
    stride = width * channels
    previous = bytearray(stride)
    for row in range(y + 1):
        start = row * (stride + 1)
        kind, line = pixels[start], bytearray(pixels[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + _predict(kind, left, up, corner)) & 0xFF
        previous = line
    return previous[x * channels], previous[x * channels + 1], previous[x * channels + 2]


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    guess = left + up - corner  # Paeth
    near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
               (abs(guess - corner), 2, corner))
    return near[2]


# -- the DOM ----------------------------------------------------------------------------


@dataclass
class Element:
    """One element of the DOM: its tag, attributes and the text within it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] | None = None

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """The elements under this one (itself included) with this tag and attributes
        (``class_="day"``: one of the classes)."""
        found = []
        for e in self.walk():
            if tag is not None and e.tag != tag:
                continue
            if all(_matches(e, k, v) for k, v in attrs.items()):
                found.append(e)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        """The only element that matches (AssertionError when none or several do)."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements, expected one"
        return found[0]

    def walk(self) -> list[Element]:
        out = [self]
        for child in self.children or []:
            out.extend(child.walk())
        return out

    @property
    def words(self) -> str:
        """The text within, whitespace collapsed."""
        return " ".join(self.text.split())


def _matches(e: Element, key: str, value: str) -> bool:
    if key == "class_":
        return value in e.attrs.get("class", "").split()
    return e.attrs.get(key.replace("_", "-")) == value


_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                   "meta", "source", "track", "wbr"})


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, children=[])
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        e = Element(tag, {k: v or "" for k, v in attrs}, children=[])
        assert self.stack[-1].children is not None
        self.stack[-1].children.append(e)
        if tag not in _VOID:
            self.stack.append(e)

    def handle_endtag(self, tag: str) -> None:
        for n in range(len(self.stack) - 1, 0, -1):
            if self.stack[n].tag == tag:
                del self.stack[n:]
                return

    def handle_data(self, data: str) -> None:
        for e in self.stack:
            e.text += data


def parse(dom: str) -> Element:
    """The DOM as a tree of elements (the serialized DOM is well formed)."""
    builder = _Builder()
    builder.feed(dom)
    builder.close()
    return builder.root
