"""``watchkeeper status-page --out DIR``: the status page as static files.

The same page the listener serves on ``/status``, from the saved state (opened
read-only, so it may run while the agent does, as any user that can read the state): the
public checks' state, uptime, daily bars, response times and incidents.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from agent.cli.usage import UsageError

#: The longest title taken (it is the page's heading and its <title>).
TITLE_CHARS = 200


def _title(value: str) -> str:
    text = value.strip()
    if not text:
        raise argparse.ArgumentTypeError("the title must not be empty")
    if len(text) > TITLE_CHARS:
        raise argparse.ArgumentTypeError(f"the title is longer than {TITLE_CHARS} characters")
    return text


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add ``status-page`` to the ``watchkeeper`` parser."""
    p = sub.add_parser(
        "status-page", parents=[common], help="write the status page as static files",
        description="Write the status page of the checks marked 'public: true' (the page "
                    "the listener serves on /status) into DIR as index.html and status.json, "
                    "each replaced in one rename. Reads the saved state; the agent may run.")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="the directory to write (created if missing)")
    p.add_argument("--title", type=_title, default=None, metavar="TEXT",
                   help="the page's heading (default: Status)")


def run(args: argparse.Namespace) -> int:
    """``status-page``: 0 when written, 1 when the files cannot be written, 2 for a config
    without public checks or a state that cannot be read."""
    from agent.config.full import load
    from agent.status_page.build import build_page
    from agent.status_page.defaults import DEFAULT_TITLE
    from agent.status_page.site import SiteError, write_site
    from agent.status_page.sources import history_source, public_checks, stored_snapshot
    from agent.store import Store

    config = load(args)
    public = public_checks(config)
    if not public:
        raise UsageError(f"no check in {config.source} is public: add 'public: true' to the "
                         "checks the status page shows")
    now = time.time()
    store = Store.open_readonly(config.agent.state_dir)
    try:
        page = build_page(stored_snapshot(config, store, now), history_source(store), now,
                          title=args.title or DEFAULT_TITLE)
    finally:
        if store is not None:
            store.close()
    try:
        written = write_site(args.out, page)
    except SiteError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return 1
    state = "" if store is not None else " (no state yet: has the agent run?)"
    print(f"wrote {', '.join(str(p) for p in written)}: {len(public)} public "
          f"check{'s' if len(public) != 1 else ''}{state}")
    return 0
