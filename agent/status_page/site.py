"""The status page as static files for any web server: ``index.html`` and ``status.json``.

Each file is written whole to a temporary name in the same directory and renamed over the
old one, so a web server serving the directory never hands out half a page (a cron job
may rewrite it every minute).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from agent.errors import WatchkeeperError
from agent.status_page.model import StatusPage
from agent.status_page.render import render_html, render_json

INDEX = "index.html"
JSON = "status.json"
#: Readable by the web server whoever it runs as; nothing in the page is secret.
MODE = 0o644


class SiteError(WatchkeeperError):
    """The output directory cannot be written."""


def write_site(out: Path, page: StatusPage) -> list[Path]:
    """Write the page's files into ``out`` (created if missing); the paths written."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiteError(f"cannot create {out}: {exc.strerror or exc}") from None
    files = ((out / JSON, render_json(page)), (out / INDEX, render_html(page)))
    for path, text in files:
        write_atomically(path, text.encode())
    return [path for path, _ in files]


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename (SiteError when it cannot be)."""
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, MODE)
        os.replace(tmp, path)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise SiteError(f"cannot write {path}: {exc.strerror or exc}") from None
