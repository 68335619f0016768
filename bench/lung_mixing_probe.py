"""How much of the lung tumour's D95 gap a lateral WEPL mixing would close (a probe).

Not a model: the plain pencil beam's dose is averaged over copies in which every voxel
reads the WEPL of the ray ``sigma`` mm beside its own (four rays at ±√2·σ along the
isocentre plane's two axes: the per-axis variance σ² of a 2-D Gaussian), i.e. the IDD
convolved with the WEPLs of the neighbouring rays — the range mixing of Urie et al.
(1986) with one, depth-independent mixing width. It patches
``ionbeam.planning._beam_setup.lattice_wepl`` for the voxels' WEPL only (the spots'
lateral Gaussians stay where they are). Printed per σ: the lung plan's PTV D95 and
mean against MC (``bench/lung_d95.py``'s plan and fields) and the lung-edge spot's
(peak WEPL 100 mm, on the tumour's face) dose in the tumour and in the lung behind it
against the stored MC plane (``bench/lung_edge.py``).

``--widths`` measures MC's own mixing width on that spot instead: at each depth, the σ of
the Gaussian that, smoothing the pencil beam's lateral profile across the tumour's face
(|x| < 8 mm, plane z = 0), best matches MC's (RMS in % of MC's maximum).

Usage: python bench/lung_mixing_probe.py [--sigmas 0 1 2 3] [--widths]
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _lung_edge import SPOTS, edge_grid, ionbeam_plane, region_ratios  # noqa: E402
from _plans import lung_plan  # noqa: E402

import ionbeam.planning._beam_setup as beam_setup  # noqa: E402
from ionbeam.evaluation.dvh import d_at_volume  # noqa: E402
from ionbeam.machine import cnao_beam_line  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose  # noqa: E402
from lung_plan_regions import field_doses  # noqa: E402

STORED = HERE.parent / "tests" / "data" / "mcsquare" / "lung_edge_spots.npz"


@contextmanager
def shifted_wepl(du_mm: float, dv_mm: float):
    """Every WEPL the beam set-up reads, taken on the ray (du, dv) mm beside."""
    original = beam_setup.lattice_wepl
    beam_setup.lattice_wepl = lambda lattice, u, v, w: original(lattice, u + du_mm, v + dv_mm, w)
    try:
        yield
    finally:
        beam_setup.lattice_wepl = original


def mixed(compute, sigma_mm: float) -> np.ndarray:
    """``compute()`` averaged over the four shifted rays (or unshifted for σ = 0)."""
    if sigma_mm <= 0.0:
        return compute()
    r = np.sqrt(2.0) * sigma_mm
    total = None
    for du, dv in ((r, 0.0), (-r, 0.0), (0.0, r), (0.0, -r)):
        with shifted_wepl(du, dv):
            dose = compute()
        total = dose if total is None else total + dose
    return total / 4.0


def mixing_widths(plane: np.ndarray, mc_plane: np.ndarray) -> None:
    """Print MC's mixing width behind the face, depth by depth (see the docstring)."""
    from scipy.ndimage import gaussian_filter1d

    x, y, _ = edge_grid().axes_mm()
    window, top = np.abs(x) < 8.0, float(mc_plane.max())

    def rms(profile: np.ndarray, j: int) -> float:
        return float(np.sqrt(np.mean((profile[window] - mc_plane[window, j]) ** 2)) / top * 100)

    print(f"{'depth mm':>9}{'σ_mix mm':>9}{'RMS before':>11}{'after':>7}{'PB/MC sum':>10}")
    for depth in range(80, 200, 10):
        j = int(np.argmin(np.abs(y - depth - 0.5)))
        sigmas = np.arange(0.25, 10.01, 0.25)
        scores = [rms(gaussian_filter1d(plane[:, j], s), j) for s in sigmas]
        best = int(np.argmin(scores))
        ratio = plane[window, j].sum() / mc_plane[window, j].sum()
        print(
            f"{y[j]:>9.1f}{sigmas[best]:>9.2f}{rms(plane[:, j], j):>10.1f}%"
            f"{scores[best]:>6.1f}%{ratio:>10.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sigmas", type=float, nargs="*", default=[0.0, 1.0, 2.0, 3.0])
    parser.add_argument("--widths", action="store_true")
    args = parser.parse_args()
    if args.widths:
        with np.load(STORED) as data:
            spot = next(s for s in SPOTS if s.name == "high_edge")
            mc_plane = data[f"{spot.name}_plane_dose_gy"].astype(float)
            model = build_beam_model(
                "proton", [float(data[f"{spot.name}_energy_mev"])], cnao_beam_line()
            )
        mixing_widths(ionbeam_plane(spot, model), mc_plane)
        return
    case = lung_plan()
    mc = sum(field_doses(case, int(1e7)))
    ptv = {st.name: st.mask for st in case.structures}[case.target]
    d95_mc, mean_mc = d_at_volume(mc, ptv, 0.95), float(mc[ptv].mean())
    options = DoseEngineOptions(with_let=False)
    with np.load(STORED) as data:
        spot = next(s for s in SPOTS if s.name == "high_edge")
        mc_plane = data[f"{spot.name}_plane_dose_gy"].astype(float)
        energy = float(data[f"{spot.name}_energy_mev"])
    model = build_beam_model("proton", [energy], cnao_beam_line())

    def plan_dose() -> np.ndarray:
        return calc_dose(
            case.ct, case.plan, case.model, structures=case.structures, options=options
        ).dose_gy

    print(f"{'σ_mix mm':>9}{'PTV D95':>9}{'mean':>8}{'spot: tumour':>14}{'lung behind':>13}")
    for sigma in args.sigmas:
        dose = mixed(plan_dose, sigma)
        plane = mixed(lambda: ionbeam_plane(spot, model), sigma)
        ratios = region_ratios(plane, mc_plane, edge_grid())
        print(
            f"{sigma:>9.1f}{100 * (d_at_volume(dose, ptv, 0.95) / d95_mc - 1):>+8.1f}%"
            f"{100 * (float(dose[ptv].mean()) / mean_mc - 1):>+7.1f}%"
            f"{ratios['tumour']:>+13.1f}%{ratios['lung_behind']:>+12.1f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
