"""config.example.yaml: valid as shipped, and every commented-out example valid when enabled."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from agent.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


def test_the_example_loads_as_shipped() -> None:
    config = load_config(EXAMPLE, env={})
    assert {c.kind for c in config.checks} >= {"cpu", "memory", "load", "disk", "tcp"}
    assert config.agent.listen == "127.0.0.1:9110"


def _commented_checks(text: str) -> str:
    """The commented-out list items under ``checks:``, uncommented."""
    body = text.split("\nchecks:\n", 1)[1]
    # The next top-level section ends the checks.
    body = re.split(r"^[a-z_]+:$", body, maxsplit=1, flags=re.M)[0]
    out = []
    for line in body.splitlines():
        m = re.match(r"^  # ?(  |- )(.*)$", line)
        if m and not line.lstrip("# ").startswith("----"):
            out.append("  " + m.group(1) + m.group(2))
    return "\n".join(out)


def test_every_commented_example_is_valid_when_uncommented(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    channels = re.findall(r"^  # ([a-z]+):\n((?:  #   .*\n)+)", text, re.M)
    assert {name for name, _ in channels} >= {"email", "sms", "chat", "pager"}
    channel_yaml = "\n".join(f"  {name}:\n" + re.sub(r"^  #", "", urls, flags=re.M)
                             for name, urls in channels)
    checks = _commented_checks(text)
    kinds = {item["kind"] for item in yaml.safe_load(checks)}
    assert kinds >= {"http", "tls", "dns", "database", "backup", "heartbeat", "process",
                     "systemd", "command", "logins", "disk"}
    routes_text = text.split("\nroutes:\n", 1)[1].split("\nchecks:\n", 1)[0]
    routes = "\n".join(re.sub(r"^  # ?", "  ", line) for line in routes_text.splitlines()
                       if line.startswith("  # "))
    assert "escalate:" in routes
    enabled = (f"agent:\n  state_dir: {tmp_path}\nchannels:\n{channel_yaml}\n"
               f"routes:\n{routes}\nchecks:\n{checks}\n")
    enabled = re.sub(r"\$\{file:[^}]+\}", "${file:" + str(secret) + "}", enabled)
    path = tmp_path / "all.yaml"
    path.write_text(enabled)
    env = {name: "x" * 12 for name in re.findall(r"\$\{([A-Z_]+)\}", enabled)}
    config = load_config(path, env=env)
    assert len(config.checks) == len(yaml.safe_load(checks))


def test_no_built_in_kind_has_an_option_the_common_keys_would_swallow() -> None:
    # An option named like a common key (name, timeout, ...) could never be set from YAML.
    from agent.check import available_kinds, load_kind
    from agent.config.checks_section import COMMON_KEYS

    clashes = {kind: sorted(set(load_kind(kind).Options.model_fields) & set(COMMON_KEYS))
               for kind in available_kinds()}
    assert {k: v for k, v in clashes.items() if v} == {}
