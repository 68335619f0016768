"""The dose kernels' inputs have one numba type whatever the beam model's array flags.

Numba compiles a kernel once per argument type, and a read-only array is another type
than a writable one: a proton beam model (no biology tables) and a carbon model (with
read-only biology tables) used to make ``count_entries`` and ``fill_entries`` compile
twice on a cold start (~7 s more of a cold ``ionbeam demo``; bench/numba_compile.py).
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient import Grid
from ionbeam.physics.radiobiology.tissue import get_tissue
from ionbeam.planning._beam_setup import setup_beam
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, SpotMap


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", [100.0, 150.0], cnao_beam_line())


def _setup(model):
    grid = Grid((6, 40, 6), (2.0, 2.0, 2.0), (-5.0, -39.0, -5.0))
    spots = SpotMap(np.array([100.0, 150.0]), np.zeros(2), np.zeros(2), np.ones(2))
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)
    index = np.arange(grid.size)
    return setup_beam(
        Beam("B1", geometry, spots),
        model,
        np.ones(grid.shape),
        grid,
        grid,
        index.astype(np.int64),
        np.zeros(index.size, dtype=np.int64),
        n_sigma=3.0,
    )


@pytest.mark.parametrize("writable", [True, False])
def test_model_tuple_type_does_not_depend_on_array_flags(model, writable: bool) -> None:
    """A model without biology tables and one with writable or read-only biology tables
    (same dtype and rank) give model tuples of the same numba type, all arrays read-only,
    and the beam model's own arrays keep their flags (read-only views, not flags set on
    them)."""
    n_e, n_d = model.idd_gy_mm2.shape
    alpha = np.zeros((1, n_e, n_d), np.float32)
    alpha.setflags(write=writable)
    with_biology = dataclasses.replace(
        model, alpha_gy=alpha, sqrt_beta_gy=alpha.copy(), tissues=(get_tissue("tumour"),)
    )
    plain, biological = _setup(model), _setup(with_biology)
    assert numba.typeof(plain.model) == numba.typeof(biological.model)
    assert all(not a.flags.writeable for a in biological.model)
    assert alpha.flags.writeable == writable
    assert biological.model[-2].base is alpha or np.shares_memory(biological.model[-2], alpha)
