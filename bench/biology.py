"""Radiobiology speed: mMKM single-ion tables, biological beam-model tables, LQ on voxels.

Run: ``NUMBA_NUM_THREADS=1 python bench/biology.py``. Prints seconds (the disk cache is
switched off so that every table is computed, except in the last part, which times the
per-energy disk cache of the biological tables in a fresh temporary cache folder: cold,
warm, and a new patient whose energy set shares most energies with the first).
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

os.environ["IONBEAM_CACHE"] = "0"

from ionbeam.physics.radiobiology import (
    TISSUES,
    compute_biology_tables,
    rbe_weighted_dose,
    rbe_weighted_dose_derivative,
    single_ion_z1d_star_gy,
)
from ionbeam.physics.radiobiology.mkm import TABLE_ENERGIES_MEV_U, _cached_table
from ionbeam.physics.stopping import let_kev_um

CARBON_FRAGMENTS = [(1, 1), (1, 2), (1, 3), (2, 3), (2, 4), (3, 6), (3, 7), (4, 7), (4, 9),
                    (5, 10), (5, 11), (6, 11), (6, 12)]  # fmt: skip


def timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    print(f"{label:<58s} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    hsg = TISSUES["hsg"].mkm_parameters()
    timed("numba compile + one z*_1D", single_ion_z1d_star_gy, 6, 100.0, 30.0, hsg)
    energies = TABLE_ENERGIES_MEV_U
    lets = let_kev_um("carbon", energies)
    timed(f"z*_1D carbon, {energies.size} energies", single_ion_z1d_star_gy, 6, energies, lets, hsg)
    _cached_table.cache_clear()
    start = time.perf_counter()
    for z, a in CARBON_FRAGMENTS:
        _cached_table(z, a, hsg)
    elapsed = time.perf_counter() - start
    label = f"z*_1D tables, {len(CARBON_FRAGMENTS)} species × {energies.size} energies"
    print(f"{label:<58s} {elapsed:8.3f} s")

    carbon = np.linspace(100.0, 400.0, 20)
    timed("biology tables carbon/HSG, 20 energies (mMKM)", compute_biology_tables,
          "carbon", carbon, "hsg")  # fmt: skip
    protons = np.linspace(70.0, 230.0, 20)
    timed("biology tables proton/tumour, 20 energies (McNamara)", compute_biology_tables,
          "proton", protons, "tumour")  # fmt: skip

    rng = np.random.default_rng(0)
    effect = rng.uniform(0.0, 2.0, 2_000_000)
    alpha_x, beta_x = 0.1, 0.05
    timed("D_RBE on 2e6 voxels", rbe_weighted_dose, effect, alpha_x, beta_x)
    timed("dD_RBE/dE on 2e6 voxels", rbe_weighted_dose_derivative, effect, alpha_x, beta_x)
    cache_timings()


def cache_timings() -> None:
    """Cold / warm / new-energy-set times of the carbon mMKM tables with the disk cache on."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["IONBEAM_CACHE"] = "1"
        os.environ["IONBEAM_CACHE_DIR"] = folder
        first = np.round(np.linspace(120.0, 300.0, 40), 2)
        second = np.round(np.concatenate([first[:30], np.linspace(302.0, 330.0, 10)]), 2)
        timed("cache: carbon/HSG 40 energies, cold (numba warm)", compute_biology_tables,
              "carbon", first, "hsg")  # fmt: skip
        timed("cache: the same 40 energies again (warm)", compute_biology_tables,
              "carbon", first, "hsg")  # fmt: skip
        timed("cache: a new set of 40 energies, 10 of them new", compute_biology_tables,
              "carbon", second, "hsg")  # fmt: skip
        timed("cache: the same 40 energies, new tissue", compute_biology_tables,
              "carbon", first, "tumour")  # fmt: skip
        os.environ["IONBEAM_CACHE"] = "0"


if __name__ == "__main__":
    main()
