"""The threaded matrix-free forward dose equals the ``prange`` reference bit for bit.

:func:`ionbeam.planning._forward_kernels.forward_dose` runs the body of
:func:`ionbeam.planning._dose_kernels.forward_dose` as serial strips on threads (issue 16:
a third of the compile time on a cold start). It must not change a single number: the
same chunks summed in the same order, whatever the thread count, on a heterogeneous
phantom (bone and lung slabs), with biology tables for two tissues, a range shifter, spots
of zero weight and the core and halo parts apart (``core``, ``halo``).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient import Grid
from ionbeam.planning import _dose_kernels as reference
from ionbeam.planning import _forward_kernels as threaded
from ionbeam.planning._beam_setup import setup_beam
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, SpotMap


@pytest.fixture(scope="module")
def setup():
    model = build_beam_model(
        "carbon", [120.0, 160.0, 200.0], cnao_beam_line(), tissues=("tumour", "late_normal")
    )
    grid = Grid((14, 26, 12), (3.0, 3.0, 3.0), (-19.5, -55.0, -16.5))
    spr = np.ones(grid.shape)
    spr[:, 7:10, :] = 1.6  # bone
    spr[:, 13:17, 4:] = 0.3  # lung, laterally only in part of the field
    energies = np.repeat(model.energies_mev_u, 9)
    x = np.tile(np.repeat([-8.0, 0.0, 8.0], 3), 3)
    y = np.tile([-8.0, 0.0, 8.0], 9)
    spots = SpotMap(energies, x, y, np.ones(energies.size))
    geometry = BeamGeometry(35.0, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)
    index = np.flatnonzero(np.ones(grid.size, bool))
    tissue = (index % 2).astype(np.int64)
    beam = Beam("B1", geometry, spots, range_shifter_wet_mm=30.0)
    return setup_beam(beam, model, spr, grid, grid, index, tissue, n_sigma=3.0), grid.size


@pytest.mark.parametrize(
    ("n_chunks", "core", "halo", "with_bio", "n_threads"),
    [
        (4, 1.0, 1.0, True, 2),
        (7, 1.0, 0.0, False, 1),
        (3, 0.0, 1.0, True, 2),
        (1, 1.0, 1.0, True, 2),
    ],
)
def test_threaded_forward_dose_equals_reference_bit_for_bit(
    setup, n_chunks: int, core: float, halo: float, with_bio: bool, n_threads: int
) -> None:
    """Dose, LET×dose, α×dose and √β×dose identical (array_equal) to the reference's."""
    s, n_out = setup
    weights = np.random.default_rng(3).uniform(0.5, 2.0, s.spots[0].size)
    weights[::5] = 0.0
    args = (weights, n_out, s.spots, s.voxels, s.cells, s.rays, s.model, s.average, 3.0)
    options = (n_chunks, core, halo, with_bio)
    want = reference.forward_dose(*args, *options)
    before = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = threaded.forward_dose(*args, *options)
    finally:
        numba.set_num_threads(before)
    for name, a, b in zip(("dose", "let", "alpha", "sqrt_beta"), got, want, strict=True):
        assert np.array_equal(a, b), name
    assert got[0].max() > 0.0 and np.count_nonzero(got[0]) > 1000
    assert (np.count_nonzero(got[2]) > 0) == with_bio
