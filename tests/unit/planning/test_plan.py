"""Plan data model: spots as arrays, layers in delivery order, weights round trip."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap


def _spots() -> SpotMap:
    return SpotMap(
        energy_mev_u=[150.0, 150.0, 120.0, 180.0],
        x_mm=[0, 5, 0, -5],
        y_mm=[0, 0, 5, 5],
        weight=[1e7, 2e7, 3e7, 4e7],
    )


def test_layers_highest_energy_first() -> None:
    spots = _spots()
    assert spots.layer_energies().tolist() == [180.0, 150.0, 120.0]
    assert [ix.tolist() for ix in spots.layer_indices()] == [[3], [0, 1], [2]]
    assert spots.total_particles == pytest.approx(1e8)


def test_spot_arrays_are_read_only_copies() -> None:
    x = np.array([1.0, 2.0])
    spots = SpotMap([100.0, 100.0], x, [0, 0], [1, 1])
    x[0] = 99.0
    assert spots.x_mm[0] == 1.0
    with pytest.raises(ValueError):
        spots.x_mm[0] = 3.0


def test_plan_weights_round_trip() -> None:
    beams = tuple(Beam(f"B{i}", geometry=None, spots=_spots()) for i in range(2))  # type: ignore[arg-type]
    plan = Plan("carbon", beams, Prescription("PTV", 60.0, 20))
    assert plan.n_spots == 8
    assert plan.beam_offsets.tolist() == [0, 4, 8]
    new = plan.with_weights(np.arange(8.0))
    assert new.beams[1].spots.weight.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert plan.weights[0] == 1e7  # the original is unchanged
    assert new.prescription.dose_per_fraction_gy == pytest.approx(3.0)
    with pytest.raises(GridMismatchError):
        plan.with_weights(np.ones(3))


@pytest.mark.parametrize(
    ("dose", "fractions"), [(0.0, 1), (float("nan"), 1), (-2.0, 1), (60.0, 0), (60.0, 2.5)]
)
def test_bad_prescriptions_refused(dose: float, fractions: float) -> None:
    with pytest.raises(ConfigError):
        Prescription("PTV", dose, fractions)  # type: ignore[arg-type]


def test_bad_spots_refused() -> None:
    with pytest.raises(ConfigError):
        SpotMap([100.0], [0.0], [0.0], [-1.0])
    with pytest.raises(GridMismatchError):
        SpotMap([100.0, 90.0], [0.0], [0.0], [1.0])
    with pytest.raises(GridMismatchError):
        SpotMap([100.0], [float("nan")], [0.0], [1.0])
