"""A plan's D98 / D95 / maximum, four ways: ``metrics.json``, its clinical goals,
ionbeam's definition recomputed from the written RT Dose (and the structures of the
plan's patient), and an external DVH tool on the written RT Dose + RTSTRUCT.

Usage: ``python bench/dvh_agreement.py PLAN_FOLDER... [--structures PTV,Brainstem]
[--dicompyler PYTHON]``, where each folder was written by ``ionbeam plan``,
``ionbeam demo`` or ``ionbeam dose --out``; ``--dicompyler`` names a Python with
dicompyler-core installed (a separate virtual environment: it is no ionbeam
dependency). Also prints the D98 / D95 that occupancy weighting (the definition of
``metrics.json`` before issue 11) gives on the same dose.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from ionbeam.evaluation import dose_metrics
from ionbeam.io.dicom import read_rt_dose
from ionbeam.io.plan_json import read_plan_json
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.dose_grid import occupancy_on_grid

_KEYS = ("d98_gy", "d95_gy", "max_gy")


def _occupancy_weighted(dose: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """D98 / D95 with each voxel counted by its occupancy (the old ``metrics.json``)."""
    d, w = dose.reshape(-1), weights.reshape(-1)
    keep = w > 0
    order = np.argsort(-d[keep], kind="stable")
    ds, cum = d[keep][order], np.cumsum(w[keep][order]) / w[keep].sum()
    at = [ds[min(int(np.searchsorted(cum, f * (1 - 1e-12))), ds.size - 1)] for f in (0.98, 0.95)]
    return {"d98_gy": float(at[0]), "d95_gy": float(at[1])}


def _rows(folder: Path, names: list[str], dicompyler: str | None) -> list[tuple[str, ...]]:
    metrics = json.loads((folder / "metrics.json").read_text())
    goals = {(g["structure"], g["metric"]): g.get("achieved_gy") for g in metrics["goals"]["goals"]}
    rd = folder / "dicom" / "RD_rbe_weighted.dcm"
    if not rd.exists():
        rd = folder / "dicom" / "RD_physical.dcm"
    dose = read_rt_dose(rd)
    phantom = read_plan_json(folder).settings["phantom"]
    patient = make_phantom(phantom["name"], **dict(phantom.get("parameters", {})))
    occupancy = occupancy_on_grid([patient.structures[n] for n in names], dose.grid)
    ours = dose_metrics(dose.values, dose.grid, occupancy)
    external = {}
    if dicompyler:
        helper = Path(__file__).with_name("_dicompyler_dvh.py")
        text = subprocess.run(
            [dicompyler, str(helper), str(folder / "dicom" / "RS.dcm"), str(rd), ",".join(names)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        external = json.loads(text.strip().splitlines()[-1])
    rows = []
    for name in names:
        saved = metrics["structures"][name]
        old = _occupancy_weighted(dose.values, occupancy[name])
        for key in _KEYS:
            goal = goals.get((name, {"d98_gy": "D98", "d95_gy": "D95", "max_gy": "D0.03cc"}[key]))
            values = [
                saved.get(key),
                goal,
                getattr(ours[name], key),
                old.get(key),
                external.get(name, {}).get(key),
            ]
            rows.append(
                (folder.name, name, key, *("—" if v is None else f"{v:.2f}" for v in values))
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--structures", default="PTV,Brainstem")
    parser.add_argument("--dicompyler", help="a Python with dicompyler-core installed")
    args = parser.parse_args()
    names = args.structures.split(",")
    header = ("plan", "structure", "metric", "metrics.json", "goal (max: D0.03cc)", "RT Dose",
              "RT Dose (occupancy-weighted)", "dicompyler-core")  # fmt: skip
    print(" | ".join(header))
    for folder in args.folders:
        for row in _rows(folder, names, args.dicompyler):
            print(" | ".join(row))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
