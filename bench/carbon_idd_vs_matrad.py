"""ionbeam's carbon depth–dose curves, with and without the 3 mm ripple filter, against
matRad's generic carbon machine.

A benchmark, not a test (``tests/validation/test_carbon_idd_vs_matrad_generic.py``
checks seven energies). matRad's ``carbon_Generic.mat`` (shipped with pyRadPlan 0.5.0)
tabulates per energy the laterally integrated depth–dose of a beam line with a ripple
filter. For every ``--every``-th energy the script prints, for matRad, ionbeam with the
CNAO line's ripple filter and ionbeam without it: the peak over the IDD at 10 mm, R80,
the distal fall-off R80–R20, the FWHM of the peak and the fragment tail 20 mm behind
R80 relative to the peak.

Usage::

    python bench/carbon_idd_vs_matrad.py [--mat carbon_Generic.mat] [--venv DIR] [--every N]

Without ``--mat``, pyRadPlan is installed into its own virtual environment on first
use (see ``bench/compare_pyradplan.py``); only its data file is read.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import scipy.io

from compare_pyradplan import DEFAULT_VENV, ensure_venv
from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.physics.depth_dose import distal_depth


def machine_file(venv: Path) -> Path:
    """Path of ``carbon_Generic.mat`` inside the pyRadPlan environment."""
    python = ensure_venv(venv)
    code = (
        "import pathlib, pyRadPlan; print(pathlib.Path(pyRadPlan.__file__).parent"
        " / 'data' / 'machines' / 'carbon_Generic.mat')"
    )
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def shape(depth: np.ndarray, idd: np.ndarray) -> tuple[float, ...]:
    """Peak / IDD(10 mm), R80, R80–R20, FWHM (mm) and IDD(R80 + 20 mm) / peak."""
    peak = int(np.argmax(idd))
    half = 0.5 * idd[peak]
    above = np.nonzero(idd > half)[0]
    lo, hi = above[0], above[-1]
    left = np.interp(half, [idd[lo - 1], idd[lo]], [depth[lo - 1], depth[lo]])
    right = np.interp(half, [idd[hi + 1], idd[hi]], [depth[hi + 1], depth[hi]])
    r80, r20 = distal_depth(depth, idd, 0.8), distal_depth(depth, idd, 0.2)
    return (
        float(idd[peak] / np.interp(10.0, depth, idd)),
        r80,
        r20 - r80,
        float(right - left),
        float(np.interp(r80 + 20.0, depth, idd) / idd[peak]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mat", type=Path, help="a carbon_Generic.mat file")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--every", type=int, default=10, help="every n-th matRad energy")
    args = parser.parse_args()
    path = args.mat or machine_file(args.venv)
    data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["machine"].data
    entries = list(data)[:: args.every]
    energies = [float(e.energy) for e in entries]
    pristine = build_beam_model("carbon", energies, cnao_beam_line())
    filtered = pristine.with_ripple_filter(True)
    print("E MeV/u | peak/entrance matRad  RiFi  none | R80 matRad  RiFi | R80-R20 matRad  RiFi"
          " | FWHM matRad  RiFi  none | tail/peak matRad  RiFi")  # fmt: skip
    for k, entry in enumerate(entries):
        m = shape(np.asarray(entry.depths, float), np.asarray(entry.Z, float))
        f = shape(filtered.depth_mm(k), filtered.idd_gy_mm2[k].astype(float))
        p = shape(pristine.depth_mm(k), pristine.idd_gy_mm2[k].astype(float))
        print(
            f"{energies[k]:7.1f} | {m[0]:18.2f} {f[0]:5.2f} {p[0]:5.2f} | {m[1]:10.1f} {f[1]:5.1f}"
            f" | {m[2]:14.2f} {f[2]:5.2f} | {m[3]:11.2f} {f[3]:5.2f} {p[3]:5.2f}"
            f" | {m[4]:16.3f} {f[4]:5.3f}"
        )


if __name__ == "__main__":
    main()
