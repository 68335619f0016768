"""``ionbeam synchrotron``: JSON keys, the table, the figure, one-line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ionbeam.cli.main import main
from ionbeam.machine.kinematics import magnetic_rigidity_tm


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IONBEAM_CACHE_DIR", str(tmp_path_factory.mktemp("cli-cache")))
        yield


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synchrotron", "--machine", "pimms", "--particle", "carbon", "--energy", "400",
                 "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("brho_tm", "qx", "qy", "dqx", "dqy", "circumference_m", "extraction_efficiency",
                "spill_length_s", "cycle_time_s"):  # fmt: skip
        assert key in out
    assert out["brho_tm"] == pytest.approx(magnetic_rigidity_tm("carbon", 400.0))
    assert out["circumference_m"] == 75.24
    assert out["qx"] == pytest.approx(1.666, abs=1e-3)
    assert out["cycle_time_s"] > out["spill_length_s"] == 1.0


def test_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figure = tmp_path / "ring.png"
    code = main(["synchrotron", "--machine", "cnao", "--particle", "proton", "--energy", "150",
                 "--plot", str(figure)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "magnetic rigidity" in out and "77.65" in out
    assert figure.stat().st_size > 10_000
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize(
    "argv",
    [
        ["--particle", "carbon", "--energy", "450"],
        ["--machine", "hit"],
        ["--particle", "neon"],
        ["--spill-length", "0"],
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], capsys) -> None:
    assert main(["synchrotron", *argv, "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1
