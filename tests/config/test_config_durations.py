"""Every duration in the config reads the same spellings and says the same words when
one is wrong: one type (``agent.durations``) behind all of them."""

from __future__ import annotations

import pytest

from tests.config.config_support import LoadIssues, LoadText

WRONG = "expected a duration like 30s, 5m, 4h or 1d, got 'soon'"

#: (YAML with ``{d}`` where the duration goes, its dotted path, must it be > 0)
PLACES = [
    ("agent: {{interval: {d}}}", "agent.interval", True),
    ("agent: {{timeout: {d}}}", "agent.timeout", True),
    ("defaults: {{repeat_interval: {d}}}", "defaults.repeat_interval", False),
    ("channels: {{ops: {{urls: [log://], group_wait: {d}}}}}", "channels.ops.group_wait",
     False),
    ("checks:\n  - {{kind: fakedisk, interval: {d}}}", "checks[0].interval", True),
    ("checks:\n  - {{kind: fakedisk, timeout: {d}}}", "checks[0].timeout", True),
    ("checks:\n  - {{kind: fakedisk, repeat_interval: {d}}}", "checks[0].repeat_interval",
     False),
    ("checks:\n  - kind: fakedisk\n    thresholds:\n"
     "      used_percent: {{adaptive: {{warmup: {d}}}}}",
     "checks[0].thresholds.used_percent.adaptive.warmup", False),
    ("checks:\n  - kind: fakedisk\n    thresholds:\n"
     "      used_percent: {{forecast: {{limit: 90, horizon: {d}}}}}",
     "checks[0].thresholds.used_percent.forecast.horizon", False),
]


@pytest.mark.parametrize(("text", "path", "positive"), PLACES, ids=[p for _, p, _ in PLACES])
def test_every_duration_takes_the_same_spellings(load: LoadText, text: str, path: str,
                                                 positive: bool) -> None:
    load(text.format(d="2m30s"))
    load(text.format(d="90"))


@pytest.mark.parametrize(("text", "path", "positive"), PLACES, ids=[p for _, p, _ in PLACES])
def test_every_wrong_duration_gets_the_same_words(issues: LoadIssues, text: str, path: str,
                                                  positive: bool) -> None:
    found = issues(text.format(d="soon"))
    assert [(p, m) for _, p, m in found] == [(path, WRONG)]
    if positive:
        assert [(p, m) for _, p, m in issues(text.format(d="0s"))] == \
            [(path, "must be longer than 0s")]
