"""The ``watchkeeper`` subcommands. Each returns the process exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from agent.cli.usage import UsageError
from agent.config.full import load
from agent.config.models import Config
from agent.model import STATUS_METRIC, CheckResult, Status, make_labels, series_name
from agent.units import format_count, format_value

log = logging.getLogger("watchkeeper.cli")


def validate(args: argparse.Namespace) -> int:
    config = load(args, ask_apprise=True)
    counts = (format_count(len(config.checks), "check"),
              format_count(len(config.channels), "channel"),
              format_count(len(config.routes), "route"))
    print(f"{args.config}: OK ({', '.join(counts)})")
    return 0


def run(args: argparse.Namespace) -> int:
    from agent.runtime import Agent

    def validated() -> Config:
        return load(args, ask_apprise=True)

    config = validated()

    async def main() -> None:
        # A reload validates the file as a start does (a thread: the check of the channel
        # URLs runs its own event loop).
        agent = Agent(config, loader=lambda: asyncio.to_thread(validated))
        agent.install_signal_handlers()
        await agent.run()

    asyncio.run(main())
    return 0


def check(args: argparse.Namespace) -> int:
    from agent.alerting.judge import Judge
    from agent.live_checks import HttpClients, build_checks
    from agent.scheduler import Job, execute

    config = load(args, ask_apprise=True)
    http = HttpClients(config)
    store = _existing_store(config)
    clock = _clock()
    live = build_checks(config, clock=clock, http_factory=http.factory, heartbeats=store)
    if args.names:
        unknown = sorted(set(args.names) - {lc.config.name for lc in live})
        if unknown:
            raise UsageError(f"no enabled check named {', '.join(unknown)}")
        live = [lc for lc in live if lc.config.name in args.names]
    # The agent's own judgement: its alert states and what it learned (read, never
    # written), so hysteresis and learned thresholds judge as in the running agent.
    judge = Judge(config.agent.host, store.load_states() if store is not None else None,
                  load_learned=store.load_learned if store is not None else None)

    async def run_all() -> list[CheckResult]:
        sem = asyncio.Semaphore(config.agent.max_concurrency)
        listener = await _stand_in_listener(config, store)

        async def one(lc: Any) -> CheckResult:
            async with sem:
                return (await execute(Job(lc.config.name, lc.config.interval,
                                          lc.config.timeout, lambda: lc.check.run(lc.ctx)),
                                      clock)).result

        try:
            return list(await asyncio.gather(*(one(lc) for lc in live)))
        finally:
            for lc in live:
                await lc.check.close()
            await http.aclose()
            if listener is not None:
                await listener.close()

    try:
        results = asyncio.run(run_all())
        now = time.time()
        verdicts = [judge.judge(lc.config, result, now)
                    for lc, result in zip(live, results, strict=True)]
    finally:
        if store is not None:
            store.close()
    rows = []
    for lc, result, verdict in zip(live, results, verdicts, strict=True):
        rows.append({
            "check": lc.config.name, "kind": lc.config.kind, "status": verdict.status.value,
            "summary": result.summary,
            "problems": [f.why for f in verdict.problems() if f.key.metric != STATUS_METRIC],
            "metrics": [{"metric": s.metric, "labels": dict(s.labels), "value": s.value}
                        for s in result.samples],
            "error": result.error,
        })
    worst = Status.worst([Status(r["status"]) for r in rows])
    if args.json:
        print(json.dumps({"status": worst.value, "checks": rows}, indent=2))
    else:
        print(render_check_table(rows))
    return worst.exit_code


async def _stand_in_listener(config: Config, store: Any) -> Any:
    """While ``check`` runs, answer on ``agent.listen`` as the agent would, when the agent
    itself is not running: checks of the agent's own /healthz then say what they will say
    under the agent, instead of "connection refused"."""
    from agent.check import Capability
    from agent.errors import WatchkeeperError
    from agent.http_api import Health, HttpApi, start_listener
    from agent.listen_address import parse_listen
    from agent.live_checks import checks_needing

    if not config.agent.listen:
        return None
    address = parse_listen(config.agent.listen)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address.connect_host, address.port), 1.0)
        writer.close()
        return None  # the agent (or something) already answers there
    except (OSError, TimeoutError):
        pass
    enabled = sum(1 for c in config.checks if c.enabled)
    api = HttpApi(heartbeats=checks_needing(config, Capability.PINGS),
                  sink=_NoPings(),
                  health=lambda: Health("ok", enabled, 0, 0), clock=_clock(),
                  token=config.agent.token)
    try:
        return await start_listener(address, api)
    except WatchkeeperError as exc:
        log.debug("no stand-in listener: %s", exc)
        return None


class _NoPings:
    def record_ping(self, name: str, ping: Any) -> None:
        from agent.errors import WatchkeeperError

        raise WatchkeeperError("the agent is not running: 'watchkeeper check' records no "
                               "pings")


def _existing_store(config: Config) -> Any:
    """The agent's store (alert states, learned thresholds, pings); None before the first
    run."""
    from agent.errors import StateError
    from agent.store import Store

    # Read only: ``check`` never creates, migrates or writes the agent's state (run as
    # root, it would leave files the agent cannot write).
    try:
        return Store.open_readonly(config.agent.state_dir)
    except StateError as exc:
        log.warning("cannot read the agent's state (judging without it): %s", exc)
        return None


def _clock() -> Any:
    from agent.clock import SystemClock

    return SystemClock()


def render_check_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table: one line per check, its metrics indented below."""
    if not rows:
        return "no checks configured"
    w_name = max(5, *(len(r["check"]) for r in rows))
    w_kind = max(4, *(len(r["kind"]) for r in rows))
    out = [f"{'CHECK':<{w_name}}  {'KIND':<{w_kind}}  {'STATUS':<8}  SUMMARY"]
    for r in rows:
        out.append(f"{r['check']:<{w_name}}  {r['kind']:<{w_kind}}  "
                   f"{r['status'].upper():<8}  {r['summary']}")
        for why in r["problems"]:
            out.append(f"{'':<{w_name}}  {'':<{w_kind}}  {'':<8}  ! {why}")
        for m in r["metrics"]:
            name = series_name(m["metric"], make_labels(m["labels"]))
            value = format_value(m["metric"], m["value"])
            out.append(f"{'':<{w_name}}  {'':<{w_kind}}  {'':<8}    {name} = {value}")
    return "\n".join(out)


async def _send_test(urls: list[str], message: Any, host: str) -> list[Any]:
    """The test message to each URL: through Apprise, or the agent's own webhook and
    Alertmanager senders for theirs."""
    from agent.clock import SystemClock
    from agent.notify.native import NativeSender
    from agent.notify.native_urls import native_kind
    from agent.notify.sender import send

    apprise = [u for u in urls if native_kind(u) is None]
    sent = iter(await send(apprise, message, timeout=30.0) if apprise else [])
    native = NativeSender(SystemClock())
    try:
        return [await native.send_test(u, host) if native_kind(u) is not None
                else next(sent) for u in urls]
    finally:
        await native.aclose()


def notify_test(args: argparse.Namespace) -> int:
    from agent.notify.masking import is_url, mask_url, scrub
    from agent.notify.message import test_message

    config = load(args)
    # A channel named twice is tested once, in the order first named.
    names = list(dict.fromkeys(args.channel or config.channels))
    missing = [n for n in names if n not in config.channels]
    if missing:
        known = ", ".join(config.channels) or "none"
        # A URL typed where a name goes carries its token: it is shown masked.
        hint = ("; --channel takes a channel's name from the config, not a URL"
                if any(is_url(n) for n in missing) else "")
        print(scrub(f"watchkeeper: no channel named {', '.join(missing)} "
                    f"(channels: {known}){hint}"), file=sys.stderr)
        return 2
    if not names:
        print("no channels configured")
        return 0
    message = test_message(config.agent.host)
    failed = 0
    for name in names:
        urls = config.channels[name].urls
        results = asyncio.run(_send_test(list(urls), message, config.agent.host))
        for url, res in zip(urls, results, strict=True):
            if res.ok:
                print(f"{name}: sent to {mask_url(url)}")
            else:
                failed += 1
                print(f"{name}: FAILED {mask_url(url)}: {res.error}")
    return 1 if failed else 0

