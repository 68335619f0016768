"""Cases shared by the planning tests: a bone-block phantom and a heterogeneous carbon beam."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import BeamModel, build_beam_model
from ionbeam.patient import CT, Grid, Patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning._beam_setup import BeamSetup, setup_beam
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, SpotMap


@pytest.fixture(scope="session")
def bone_block_phantoms() -> Callable[[float, tuple[float, float, float]], tuple[Patient, CT]]:
    """Makes (water phantom, its CT with a bone block (1200 HU) over x > 0 from 10 to
    40 mm deep) of the given voxel spacing and box size (mm)."""

    def make(spacing_mm: float, box_size_mm: tuple[float, float, float]) -> tuple[Patient, CT]:
        water = make_phantom("water", spacing_mm=spacing_mm, box_size_mm=box_size_mm,
                             target_size_mm=9.0)  # fmt: skip
        hu = np.array(water.ct.hu)
        x, y, _ = water.grid.axes_mm()
        block = (x[:, None] > 0) & (y[None, :] > -65) & (y[None, :] < -35)
        hu[block] = 1200.0
        return water, CT(hu, water.grid)

    return make


@pytest.fixture(scope="module")
def carbon() -> BeamModel:
    """Carbon beam model at three energies with biology tables for two tissues."""
    return build_beam_model(
        "carbon", [120.0, 160.0, 200.0], cnao_beam_line(), tissues=("tumour", "late_normal")
    )


@pytest.fixture(scope="session")
def slab_setup() -> Callable[..., BeamSetup]:
    """Makes the set-up of a 3 × 3 × 3-layer carbon field (``model``) through a phantom with
    a bone slab and a lung slab in only part of the field, voxels alternating between two
    tissues, at ``gantry_deg`` and with a range shifter of ``range_shifter_mm`` WET."""

    def make(model: BeamModel, *, gantry_deg: float, range_shifter_mm: float = 0.0) -> BeamSetup:
        grid = Grid((16, 30, 14), (3.0, 3.0, 3.0), (-22.5, -60.0, -19.5))
        spr = np.ones(grid.shape)
        spr[:, 8:11, :] = 1.6  # bone
        spr[:, 14:19, 4:] = 0.3  # lung, laterally only in part of the field
        energies = np.repeat(model.energies_mev_u, 9)
        x = np.tile(np.repeat([-8.0, 0.0, 8.0], 3), 3)
        y = np.tile([-8.0, 0.0, 8.0], 9)
        spots = SpotMap(energies, x, y, np.ones(energies.size))
        geometry = BeamGeometry(gantry_deg, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)
        index = np.flatnonzero(np.ones(grid.size, bool))
        tissue = (index % 2).astype(np.int64)
        beam = Beam("B1", geometry, spots, range_shifter_wet_mm=range_shifter_mm)
        return setup_beam(beam, model, spr, grid, grid, index, tissue, n_sigma=3.0)

    return make
