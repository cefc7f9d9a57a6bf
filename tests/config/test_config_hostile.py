"""Hostile config files: one clear issue at the right line, never another exception.

The real loader with the real check kinds (the ``http`` kind's sizes, say) reads each
file of ``tests/config/hostile_cases.py``: a file nested 492 deep, a 430-byte alias bomb,
a 310-digit duration, ``${file:/dev/zero}``, a FIFO, a NUL in ``state_dir``... Each ends
in a ConfigError whose issue names the line and says what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from tests.config.hostile_cases import Hostile, params, write_case


@pytest.mark.parametrize("case", params())
def test_a_hostile_file_is_one_issue_at_its_line(tmp_path: Path, case: Hostile) -> None:
    path = write_case(tmp_path, case)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    found = caught.value.issues
    # The issue is the whole story: no second issue repeats it in other words.
    assert len(found) == 1, found
    assert case.words in found[0].message, found
    assert found[0].line == case.line
