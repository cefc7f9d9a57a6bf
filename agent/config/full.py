"""The whole check of a config file, as the commands run it, and what follows from it.

``load`` reads the file and, for the commands that need every problem at once
(``validate``, ``run``, ``check``), asks Apprise about every channel URL in the same
pass (``check_channel_urls``: one child process for all URLs; the agent never imports
Apprise), so schema errors, unknown names, thresholds and refused URLs come back together
in one ConfigError. Once the config is valid, its secrets are registered: each URL's form
with ``agent.notify.masking`` (what ``mask_url`` shows) and the secret parts of URLs,
DSNs and tokens with the log scrubber (``secret_parts``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, SecretStr

from agent import logs
from agent.config.loader import load_config
from agent.config.models import Config
from agent.notify import masking
from agent.notify.protocol import UrlVerdict


def load(args: argparse.Namespace, *, ask_apprise: bool = False) -> Config:
    """Load and validate ``args.config``; register its secrets with the log scrubber.

    ``ask_apprise``: have Apprise judge every channel URL in the same pass (costs a child
    process, so only the commands that validate ask). ``args.log_level`` unset: the
    config's ``agent.log_level`` applies from now on.
    """
    config = load_config(args.config,
                         judge_urls=check_channel_urls if ask_apprise else None)
    for url, form in config.url_forms.items():
        masking.remember(url, form)
    logs.scrubber.add(secret_parts(config))
    if not getattr(args, "log_level", None):
        logging.getLogger().setLevel(config.agent.log_level.upper())
    return config


def check_channel_urls(urls: Sequence[str]) -> list[UrlVerdict]:
    """Apprise's verdict on each URL, asked of one child process (see
    ``agent.notify.sender.validate_urls``)."""
    from agent.notify.sender import validate_urls

    return asyncio.run(validate_urls(urls))


def secret_parts(config: Config) -> list[str]:
    """Every secret the config holds, for the log scrubber, and nothing else: the secret
    parts of each channel URL (by Apprise's account when it was asked, else the fallback's
    sure ones), the password and secret query values of URLs in check options (database
    DSNs, proxies), every other secret option value, and the listener's token."""
    found: list[str] = []
    for channel in config.channels.values():
        for url in channel.urls:
            form = config.url_forms.get(url) or masking.fallback_form(url)
            found.extend(form.secrets)
    for check in config.checks:
        if isinstance(check.options, BaseModel):
            for value in _secret_values(check.options):
                found.extend(_secrets_in(value))
    if config.agent.token:
        found.append(config.agent.token)
    return masking.variants(found)


def _secrets_in(value: str) -> list[str]:
    """A secret option's secret parts: a URL (a DSN) keeps its address, not its password."""
    return masking.fixed_secrets(value) if masking.is_url(value) else [value]


def _secret_values(model: BaseModel) -> Iterator[str]:
    """The values of every ``SecretStr`` in an options model, nested ones too: a check
    declares a secret option by its type, so any kind (a third party's too) is covered."""
    for name in type(model).model_fields:
        yield from _secrets_of(getattr(model, name))


def _secrets_of(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        if value.get_secret_value():
            yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        yield from _secret_values(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _secrets_of(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_of(item)


def config_line(config: Config, path: tuple[str | int, ...]) -> int | None:
    """The line of a path in the config file, when the loader recorded it."""
    if config.lines is None:
        return None
    line: int | None = config.lines.line_of(path)
    return line
