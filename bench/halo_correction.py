"""The full-width halo's correction and the reported products: time per call and parts.

TG-119 (three fields 0°, 120°, 240°, spot spacing σ in air at the middle energy) on a
``--grid`` mm grid (CT and dose); every spot 10⁶ particles. Printed: the correction
(:meth:`~ionbeam.planning.halo.HaloField.correction`, halo by convolution − the disc
halo, every beam, cache cleared) per call, wall and CPU seconds of the process (all
threads: the machine is shared, so CPU is the figure to compare), with its parts: the
layers' σ ranges (``halo_widths``), filtered maps (``filtered_maps``), gather
(``gather_halo``) and the disc (matrix-free ``forward_dose``); then the reported
products M·w (every matrix, with the correction kept) with 1 thread and with all, and
whether they are the same bit for bit; and the largest difference of the correction
from each halo Gaussian computed alone and summed (the way before both shared a pass),
relative to its largest value.

With ``--reference`` the reference correction (``bench/_halo_reference.py``: 6 pixels per
σ, each layer's exact σ range, the disc halo matrix-free) is timed too, alternating with
the default one, and their largest difference printed (% of the largest reported dose and
of the target's mean dose, and of each term's largest |correction|).

With ``--without-let`` the correction without LET×dose (``with_let=False``, as the
optimizer's offsets are computed since 8 December 2026) is timed too, alternating, and
whether its dose is the same bit for bit.

Usage: ``python bench/halo_correction.py [--particle proton] [--grid 2] [--repeat 3]
[--reference] [--without-let] [--no-products]``

Measured 7 Dec 2026 (halocheap, load 10-14, CPU s best of 3, wall in brackets), 5 mm:
protons reference 1.75 (3.17) vs default 0.68 (1.15): gather 0.43, maps 0.14, disc 0.05;
carbon 2.15 (4.61) vs 0.92 (1.60); largest difference 0.046 % / 0.12 % of the largest dose.

Measured 7 Dec 2026 (commit 37f1fa5, shared 2-core machine at load 11: CPU seconds are the
figure), ``--grid 3 --repeat 2``, protons, 652 593 voxels, 34 153 spots, 72.1 M non-zeros:
correction 9.59 s CPU (31.9 s wall): σ 0.81, maps 1.13, gather 2.10, disc 4.93; products
0.32 s CPU, 1.53 s wall with 1 thread, 1.19 s with 2, the same bit for bit; one pass against
the Gaussians apart 1.2e-15.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

HERE = Path(__file__).resolve().parent
TARGET = "OuterTarget"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particle", default="proton", choices=("proton", "carbon"))
    parser.add_argument("--grid", type=float, default=2.0, help="CT and dose grid (mm)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also the reference correction (6 pixels per σ, matrix-free disc)",
    )
    parser.add_argument("--no-products", action="store_true", help="skip the products' timing")
    parser.add_argument(
        "--without-let", action="store_true", help="also the correction without LET×dose"
    )
    args = parser.parse_args()

    import numba
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _halo_reference import largest_difference, reference_of
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning import _forward_kernels, _halo_kernels
    from ionbeam.planning.halo import HaloTerms, beam_halo

    patient = make_phantom("tg119", spacing_mm=args.grid)
    model = beam_model_for(args.particle)
    middle = float(model.energies_mev_u[model.n_energies // 2])
    sigma = float(model.beam_line.sigma_air_mm(args.particle, middle))
    _, influence, _ = tg119_plan_and_dij(
        patient.ct, list(patient.structures.values()), args.particle, target=TARGET,
        isocenter_mm=patient.structures[TARGET].centroid_mm, spot_spacing_mm=round(sigma, 1),
        dose_grid_mm=args.grid,
    )  # fmt: skip
    halo = influence.halo
    weights = np.full(influence.n_spots, 1e6)
    print(f"TG-119 {args.particle}, {args.grid:g} mm: {influence.grid.size} voxels, "
          f"{influence.n_spots} spots, {influence.nnz / 1e6:.1f} M non-zeros, "
          f"{numba.get_num_threads()} threads")  # fmt: skip

    spent: dict[str, float] = collections.defaultdict(float)
    kernels = (
        (_halo_kernels, "halo_widths"),
        (_halo_kernels, "filtered_maps"),
        (_halo_kernels, "gather_halo"),
        (_halo_kernels, "gather_layers"),
        (_halo_kernels, "disc_sums"),
        (_forward_kernels, "forward_dose"),
    )
    for module, name in kernels:
        function = getattr(module, name, None)
        if function is None:  # an older tree (its maps were scipy's, outside the kernels)
            continue

        def timed(*a, _f=function, _n=name):  # type: ignore[no-untyped-def]
            t = time.process_time()
            out = _f(*a)
            spent[_n] += time.process_time() - t
            return out

        setattr(module, name, timed)
    fields = {"default": halo}
    if args.reference:
        fields["reference"] = reference_of(halo)
    if args.without_let:
        fields["without LET"] = halo
    let_of = {name: name != "without LET" for name in fields}
    for name, field in fields.items():
        field.correction(weights, with_let=let_of[name])  # compiled, warm
    rows: dict[str, list] = {name: [] for name in fields}
    corrections = {}
    for _ in range(args.repeat):  # alternating, on the same (loaded) machine
        for name, field in fields.items():
            field._cache.clear()
            spent.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            corrections[name] = field.correction(weights, with_let=let_of[name])
            rows[name].append((time.perf_counter() - wall, time.process_time() - cpu,
                               dict(spent)))  # fmt: skip
    for name, runs in rows.items():
        wall, cpu, parts = min(runs, key=lambda r: r[1])
        print(f"correction, {name}: {wall:.2f} s wall, {cpu:.2f} s CPU (best of {args.repeat}; "
              f"all CPU s {', '.join(f'{r[1]:.2f}' for r in runs)}); CPU s: "
              + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))  # fmt: skip
    correction = corrections["default"]
    if args.without_let:
        same = np.array_equal(corrections["without LET"].dose, correction.dose)
        print(f"without LET×dose: the dose {'the same' if same else 'NOT the same'} bit for bit")
    if args.reference:
        reported = influence.products(weights).dose
        target = patient.structures[TARGET].mask.reshape(-1)
        top = float(reported.max())
        mean = float(reported[target].mean()) if target.size == reported.size else top
        delta = largest_difference(corrections["default"], corrections["reference"])
        print(f"default vs reference correction: largest |dose difference| "
              f"{100 * delta['dose'] / top:.3f} % of the largest reported dose, "
              f"{100 * delta['dose'] / mean:.3f} % of the target's mean; "
              + ", ".join(f"{k} {v / np.abs(getattr(corrections['reference'], k)).max():.2e}"
                          for k, v in delta.items())
              + " of each term's largest |correction|")  # fmt: skip

    if args.no_products:
        return
    products = {}
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        influence._last.clear()
        influence.products(weights)  # warm
        best = (np.inf, np.inf)
        for _ in range(args.repeat):
            influence._last.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            products[threads] = influence.products(weights)
            best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
        print(f"reported products, {threads} thread(s): {best[0]:.3f} s wall, "
              f"{best[1]:.3f} s CPU")  # fmt: skip
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    one, many = products.values()
    same = all(a is None or np.array_equal(a, b) for a, b in zip(one, many, strict=True))
    print(f"products the same bit for bit with 1 and {numba.config.NUMBA_NUM_THREADS} "
          f"threads: {same}")  # fmt: skip

    worst = 0.0
    for _, setup, w in halo._beams(weights):
        n = influence.grid.size
        together = HaloTerms(np.zeros(n), np.zeros(n), None, None)
        beam_halo(setup, w, together, with_let=True, with_bio=False)
        apart = HaloTerms(np.zeros(n), np.zeros(n), None, None)
        for weight, sigma2, dose, cumulative in setup.halo_parts:
            alone = dataclasses.replace(
                setup, model=(*setup.model[:7], weight, sigma2, *setup.model[9:]),
                average=(*setup.average[:-2], dose, cumulative), halo_parts=(),
            )  # fmt: skip
            beam_halo(alone, w, apart, with_let=True, with_bio=False)
        worst = max(worst, float(np.abs(together.dose - apart.dose).max()
                                 / np.abs(apart.dose).max()))  # fmt: skip
    print(
        f"halo, both Gaussians in one pass vs apart: {worst:.1e} of its largest value; "
        f"correction's largest |value| {np.abs(correction.dose).max():.3e} Gy"
    )


if __name__ == "__main__":
    main()
