"""ionbeam's proton depth–dose curves against the MC-derived ones of matRad's generic machine.

A benchmark, not a test. matRad's ``protons_Generic.mat`` (shipped with pyRadPlan
0.5.0; "double-Gaussian dose kernels fitted to MC simulations using a generic
machine model", DKFZ) tabulates, per energy, the laterally integrated depth–dose
(MeV cm²/g per proton) and the energy spectrum (mean, σ in %) of its beam. For
each listed energy, ionbeam's ``depth_dose`` is computed with the same mean energy
and spread, and the script prints: R80 and R80–R20 of both; the peak over the
mean IDD at 10–20 mm; the energy deposited in the last part of the curve
(R80 − 15 mm to R80 + 3 mm, where the Bragg peak is) and in front of it, MeV per
proton, ionbeam − matRad.

The point was the Bragg-peak discrepancy of depth–dose model version 1 (see
``docs/validation.md``): with R80 and the distal tail equal, ionbeam put more energy
into the peak region, by an amount that grew with the range (about 0.27 % of the
peak-region energy per cm) — the signature of a missing primary-removal channel.
Model version 2 removes primaries by elastic scattering too; this script checks it
against a second MC-derived reference.

Usage::

    python bench/idd_vs_matrad.py [--venv DIR | --machine-file PATH] [--every N]

pyRadPlan is installed into its own virtual environment on first use (see
``bench/compare_pyradplan.py``); only its data file is read. ``--machine-file``
reads ``protons_Generic.mat`` directly instead (e.g. unpacked from the wheel that
``pip download pyradplan==0.5.0 --no-deps`` fetches), without the installation.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import scipy.io

from compare_pyradplan import DEFAULT_VENV, ensure_venv
from ionbeam.physics.depth_dose import depth_dose, distal_depth

#: Width of the peak region, mm before and after R80.
PEAK_BEFORE_MM, PEAK_AFTER_MM = 15.0, 3.0
#: The largest relative energy spread ionbeam's depth_dose accepts, %.
MAX_SPREAD_PERCENT = 5.0


def generic_machine_file(venv: Path) -> Path:
    """Path of ``protons_Generic.mat`` inside the pyRadPlan environment."""
    python = ensure_venv(venv)
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import pathlib, pyRadPlan; print(pathlib.Path(pyRadPlan.__file__).parent"
            " / 'data' / 'machines' / 'protons_Generic.mat')",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def compare(entry) -> dict[str, float]:
    """ionbeam vs one matRad energy: ranges (mm), ratios, energies (MeV per proton)."""
    z = np.asarray(entry.depths, dtype=float)
    idd = np.asarray(entry.Z, dtype=float) / 10.0  # MeV cm²/g × 1 g/cm³ → MeV/mm
    mean, spread = float(entry.energySpectrum.mean), float(entry.energySpectrum.sigma)
    ours = depth_dose("proton", mean, energy_spread_rel=spread / 100.0)
    on_z = np.interp(z, ours.depth_mm, ours.idd_mev_mm)
    r80 = distal_depth(z, idd, 0.8)
    plateau = (z >= 10.0) & (z <= 20.0)
    peak = (z >= r80 - PEAK_BEFORE_MM) & (z < r80 + PEAK_AFTER_MM)
    front = z < r80 - PEAK_BEFORE_MM
    return {
        "energy": mean,
        "spread": spread,
        "r80": r80,
        "dr80": ours.r80_mm - r80,
        "falloff": distal_depth(z, idd, 0.2) - r80,
        "falloff_ours": ours.distal_depth_mm(0.2) - ours.r80_mm,
        "ptp": idd.max() / idd[plateau].mean(),
        "ptp_ours": ours.idd_mev_mm.max() / on_z[plateau].mean(),
        "peak_mev": np.trapezoid(idd[peak], z[peak]),
        "dpeak_mev": np.trapezoid((on_z - idd)[peak], z[peak]),
        "dfront_mev": np.trapezoid((on_z - idd)[front], z[front]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--machine-file", type=Path, help="protons_Generic.mat to read")
    parser.add_argument("--every", type=int, default=10, help="every N-th energy of matRad")
    args = parser.parse_args()
    path = args.machine_file or generic_machine_file(args.venv)
    data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["machine"].data
    print(f"matRad generic proton machine ({path.name}) vs ionbeam depth_dose, same spectrum")
    print(
        f"{'E MeV':>7}{'σE %':>6}{'R80':>7}{'ΔR80':>6} | {'R80-R20':>7}{'ours':>6} | "
        f"{'peak/plateau':>12}{'ours':>6} | {'peak-region MeV':>15}{'Δ ours':>8}{'Δ %':>6}"
        f"{'Δ %/cm':>7} | {'Δ in front MeV':>14}"
    )
    usable = [e for e in data if float(e.energySpectrum.sigma) <= MAX_SPREAD_PERCENT]
    print(
        f"({len(data) - len(usable)} lowest energies skipped: matRad's spread there exceeds "
        f"{MAX_SPREAD_PERCENT:g} %, beyond ionbeam's depth_dose)"
    )
    for entry in usable[:: args.every]:
        r = compare(entry)
        rel = 100.0 * r["dpeak_mev"] / r["peak_mev"]
        print(
            f"{r['energy']:>7.1f}{r['spread']:>6.2f}{r['r80']:>7.1f}{r['dr80']:>+6.2f} | "
            f"{r['falloff']:>7.2f}{r['falloff_ours']:>6.2f} | {r['ptp']:>12.2f}"
            f"{r['ptp_ours']:>6.2f} | {r['peak_mev']:>15.2f}{r['dpeak_mev']:>+8.2f}"
            f"{rel:>+6.1f}{rel / (r['r80'] / 10.0):>+7.2f} | {r['dfront_mev']:>+14.2f}"
        )


if __name__ == "__main__":
    main()
