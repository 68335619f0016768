"""``ionbeam plan``: the ripple-filter setting of the plan file and command line is honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from ionbeam.cli._plan_inputs import plan_inputs
from ionbeam.cli.main import build_parser

BASE = ["plan", "--phantom", "water", "--particle", "carbon", "--ct-spacing", "6"]


def _options(tmp_path: Path, *extra: str):
    args = build_parser().parse_args([*BASE, "--out", str(tmp_path / "out"), *extra])
    return plan_inputs(args).options


@pytest.mark.parametrize(("flag", "expected"), [((), None), (("--ripple-filter", "off"), False),
                                                (("--ripple-filter", "on"), True)])  # fmt: skip
def test_command_line_flag(tmp_path: Path, flag: tuple[str, ...], expected: bool | None) -> None:
    assert _options(tmp_path, *flag).ripple_filter is expected


def test_plan_file_key_and_command_line_override(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text("[plan]\nripple_filter = false\n", encoding="utf-8")
    assert _options(tmp_path, str(plan_file)).ripple_filter is False
    assert _options(tmp_path, str(plan_file), "--ripple-filter", "on").ripple_filter is True
