"""``ionbeam deliver``: totals (table or JSON), the record and figure on disk, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import write_plan_json
from ionbeam.machine import cnao_machine
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


def _plan(weight: float = 2.0e5, top_energy_mev_u: float | None = None) -> Plan:
    """Two layers of 25 carbon spots: four library steps above the lowest energy (or
    ``top_energy_mev_u``), and the lowest."""
    library = cnao_machine().energy_library("carbon").energies_mev_u
    axis = np.arange(-6.0, 6.1, 3.0)
    gx, gy = np.meshgrid(axis, axis)
    n = gx.size
    top = library[4] if top_energy_mev_u is None else top_energy_mev_u
    energies = np.r_[np.full(n, top), np.full(n, library[0])]
    spots = SpotMap(energies, np.tile(gx.ravel(), 2), np.tile(gy.ravel(), 2),
                    np.full(2 * n, weight) + 0.3)  # fmt: skip
    return Plan("carbon", (Beam("B1", BeamGeometry(), spots),), Prescription("PTV", 2.0))


def _write(folder: Path, plan: Plan) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_plan_json(plan, folder / "plan.json")
    return folder


def test_json_totals_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write(tmp_path / "plan", _plan())
    assert main(["deliver", str(folder), "--json", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("fraction_time_s", "beam_on_s", "n_cycles", "n_spills", "layer_switching_s",
                "planned_particles", "delivered_particles", "fields", "completed"):  # fmt: skip
        assert key in out
    assert out["planned_particles"] == 50 * 200_000  # weights 2e5 + 0.3 round down
    assert out["n_cycles"] == 2 and out["n_layers"] == 2 and out["completed"] is True
    assert abs(out["delivered_particles"] - out["planned_particles"]) < 5 * 0.5 * 1e7**0.5
    record = folder / "delivery"
    names = sorted(p.name for p in record.iterdir())
    assert names == ["layers.csv", "spills.csv", "spots.csv", "summary.json", "timeline.png"]
    assert (record / "timeline.png").stat().st_size > 20_000
    summary = json.loads((record / "summary.json").read_text())["summary"]
    assert summary["fraction_time_s"] == out["fraction_time_s"]
    # same seed, same delivery
    assert main(["deliver", str(folder / "plan.json"), "--json", "--seed", "3",
                 "--out", str(tmp_path / "again"), "--no-figure"]) == 0  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert again["delivered_particles"] == out["delivered_particles"]
    assert again["fraction_time_s"] == out["fraction_time_s"]
    assert not (tmp_path / "again" / "timeline.png").exists()


def test_table_raster_and_json_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write(tmp_path, _plan())
    out_dir = tmp_path / "rec"
    code = main(["deliver", str(folder), "--scan", "raster", "--machine", "pimms",
                 "--format", "json", "--out", str(out_dir), "--multi-energy"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "delivery time per fraction" in text and "raster scanning" in text and "pimms" in text
    data = json.loads((out_dir / "record.json").read_text())
    assert data["summary"]["scan_mode"] == "raster" and data["summary"]["n_cycles"] == 1
    assert sum(data["tables"]["spots"]["transit_particles"]) > 0


@pytest.mark.parametrize(
    ("plan", "argv", "message"),
    [
        (None, [], "no plan file"),
        (_plan(), ["--machine", "hit"], "unknown machine"),
        (_plan(top_energy_mev_u=450.0), [], "energy"),
        (_plan(weight=6.0e7), [], "split the field"),
        (_plan(weight=1000.0), [], "--below-minimum"),
        (_plan(), ["--spill-length", "-1"], "spill-length"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan: Plan | None, argv: list[str],
    message: str,
) -> None:  # fmt: skip
    folder = tmp_path / "plan"
    if plan is not None:
        _write(folder, plan)
    assert main(["deliver", str(folder), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1 and message in err
    assert not (folder / "delivery").exists()


def test_below_minimum_round_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = _write(tmp_path, _plan(weight=3000.0))
    assert main(["deliver", str(folder), "--json", "--below-minimum", "round",
                 "--no-figure"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["spots_raised_to_minimum"] == 50 and out["planned_particles"] == 50 * 5000


def test_machines_and_extractions_give_different_explained_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same carbon plan (10⁹ ions, 4 spills) on three machines and two extractions.

    MedAustron extracts the same 4·10⁸ ions per spill over 5 s instead of 1 s: five times
    the beam-on time. CNAO and PIMMS share the carbon cycle (7 MeV/u injection, same
    ramps): the same time to 1 %, their rings differ in spill quality, not in time. RF
    knock-out stops extracting while the magnets move (nothing dumped; as fast here, where
    no spill runs short) and, with feedback, ripples less: smaller spot errors."""
    folder = _write(tmp_path / "plan", _plan(weight=2.0e7))
    assert main(["compare-machines", str(folder), "--json"]) == 0
    rows = {(r["machine"], r["extraction"]): r for r in json.loads(capsys.readouterr().out)
            ["deliveries"]}  # fmt: skip
    assert len(rows) == 6
    for machine in ("cnao", "pimms", "medaustron"):
        rfko, betatron = rows[(machine, "rfko")], rows[(machine, "betatron")]
        assert rfko["chopped_particles"] == 0.0 < betatron["chopped_particles"]
        # pausing instead of dumping: as fast (here no spill runs short of particles)
        assert rfko["delivery_time_s"] == pytest.approx(betatron["delivery_time_s"], rel=1e-3)
        assert rfko["spot_error_rms"] < betatron["spot_error_rms"]
    cnao, pimms, med = (rows[(m, "betatron")] for m in ("cnao", "pimms", "medaustron"))
    assert med["beam_on_s"] == pytest.approx(5 * cnao["beam_on_s"], rel=0.1)
    assert med["delivery_time_s"] > cnao["delivery_time_s"] + 5.0
    assert pimms["delivery_time_s"] == pytest.approx(cnao["delivery_time_s"], rel=0.01)
    for r in rows.values():
        assert 0 < r["beam_on_fraction"] < 1


def test_deliver_on_medaustron_with_rfko_and_ripple(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "plan", _plan())
    args = ["deliver", str(folder), "--json", "--no-figure", "--machine", "medaustron",
            "--extraction", "rfko", "--ripple", "0.2"]  # fmt: skip
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["machine"] == "medaustron" and out["extraction"] == "rfko"
    assert out["ripple_rms"] == pytest.approx(0.2) and out["spot_error_rms"] > 0
    assert out["chopped_particles"] == 0.0
    assert main(["deliver", str(folder), "--machine", "hit"]) != 0
