"""Spot placement: lateral coverage of the target, layers at the target's depths, order."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError, StructureError
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.spot_placement import place_spots, serpentine_order

# A synthetic library: one energy per 2 mm of Bragg-peak depth from 20 to 300 mm.
PEAKS = np.arange(20.0, 301.0, 2.0)
ENERGIES = 50.0 + PEAKS  # any increasing map will do for placement


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=2.5, box_size_mm=160.0, target_size_mm=40.0)


def _place(patient, gantry: float = 0.0, **kwargs):
    return place_spots(
        patient.ct.spr(),
        patient.grid,
        patient.structures["Target"].mask,
        BeamGeometry(gantry_deg=gantry),
        energies_mev_u=ENERGIES,
        peak_depths_mm=PEAKS,
        spot_spacing_mm=kwargs.pop("spot_spacing_mm", 5.0),
        **kwargs,
    )


def test_spots_cover_the_target_laterally_and_in_depth(water) -> None:
    """A 40 mm cube centred 80 mm deep in water (box 160 mm, 10 mm air in front):
    spots span ±20 mm on a 5 mm grid and peaks from ~60 to ~100 mm WEPL."""
    spots = _place(water)
    assert spots.n_spots > 0
    xs, ys = np.unique(spots.x_mm), np.unique(spots.y_mm)
    assert xs.min() == pytest.approx(-20.0) and xs.max() == pytest.approx(20.0)
    assert ys.min() == pytest.approx(-20.0) and ys.max() == pytest.approx(20.0)
    np.testing.assert_allclose(np.diff(xs), 5.0)
    peaks = PEAKS[np.searchsorted(ENERGIES, spots.layer_energies())]
    # target WEPL: from 60 - 1.25 to 100 + 1.25 mm (voxel centres), water SPR = 1
    assert peaks.min() >= 57.0 and peaks.min() <= 62.0
    assert peaks.max() <= 102.0 and peaks.max() >= 98.0
    # every lateral node has every layer in a laterally uniform target
    assert spots.n_spots == xs.size * ys.size * spots.layer_energies().size


def test_delivery_order_is_serpentine_by_layer(water) -> None:
    spots = _place(water)
    assert np.all(np.diff(spots.energy_mev_u) <= 0)  # highest energy first
    first = spots.layer_indices()[0]
    y = spots.y_mm[first]
    x = spots.x_mm[first]
    assert np.all(np.diff(y) >= 0)
    rows = np.unique(y)
    row0, row1 = x[y == rows[0]], x[y == rows[1]]
    assert np.all(np.diff(row0) > 0) and np.all(np.diff(row1) < 0)


def test_serpentine_order_small_example() -> None:
    order = serpentine_order([100, 100, 100, 100, 120], [0, 5, 0, 5, 0], [0, 0, 5, 5, 0])
    assert order.tolist() == [4, 0, 1, 3, 2]


def test_range_shifter_pulls_layers_to_lower_energies(water) -> None:
    plain = _place(water)
    shifted = _place(water, range_shifter_wet_mm=20.0)
    assert shifted.layer_energies().max() == pytest.approx(plain.layer_energies().max() + 20.0)


def test_bad_inputs(water) -> None:
    with pytest.raises(StructureError):
        place_spots(
            water.ct.spr(),
            water.grid,
            np.zeros(water.grid.shape, bool),
            BeamGeometry(),
            energies_mev_u=ENERGIES,
            peak_depths_mm=PEAKS,
            spot_spacing_mm=5.0,
        )
    with pytest.raises(ConfigError):
        _place(water, spot_spacing_mm=0.0)
    with pytest.raises(MachineLimitError, match="range shifter"):
        place_spots(
            water.ct.spr(),
            water.grid,
            water.structures["Target"].mask,
            BeamGeometry(),
            energies_mev_u=ENERGIES[30:],
            peak_depths_mm=PEAKS[30:],
            spot_spacing_mm=5.0,
        )
    with pytest.raises(MachineLimitError, match="beam angle"):
        place_spots(
            water.ct.spr(),
            water.grid,
            water.structures["Target"].mask,
            BeamGeometry(),
            energies_mev_u=ENERGIES[:10],
            peak_depths_mm=PEAKS[:10],
            spot_spacing_mm=5.0,
        )
