"""Fragmentation models: conservation, Goldhaber widths, isotopes."""

import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.physics.fragmentation import (
    FragmentationModel,
    FragmentChannel,
    fragment_particle,
    fragmentation_model,
    secondary_fragmentation_model,
)


@pytest.mark.parametrize("ion", ["helium", "carbon", "oxygen"])
def test_default_models_conserve_charge_and_nucleons(ion: str) -> None:
    model = fragmentation_model(ion)
    own = [c for c in model.channels if not c.from_target]  # the target's are its own
    charge = sum(c.z * c.multiplicity for c in own)
    nucleons = sum(c.a * c.multiplicity for c in own)
    assert charge <= model.projectile_z + 1e-9 and nucleons <= model.projectile_a + 1e-9
    # participants carry half the energy per nucleon of the spectators
    assert 0.45 < model.nucleon_fraction_in_fragments <= 1.0


def test_models_that_create_charge_are_refused() -> None:
    with pytest.raises(ConfigError):
        FragmentationModel(2, 4, (FragmentChannel(1, 1, 3.0),))


def test_goldhaber_width_is_largest_for_half_the_projectile() -> None:
    model = fragmentation_model("carbon")
    widths = {(c.z, c.a): model.momentum_spread_mev_c(c) for c in model.channels}
    assert widths[(1, 1)] == pytest.approx(90.0)  # σ0 √(1·11/11)
    assert widths[(3, 6)] > widths[(5, 11)] > 0


def test_protons_do_not_fragment() -> None:
    with pytest.raises(UnknownNameError):
        fragmentation_model("proton")
    assert secondary_fragmentation_model(1, 2) is None


def test_fragment_masses_are_nuclear_masses() -> None:
    alpha = fragment_particle(2, 4)
    assert alpha.mass_mev == pytest.approx(3727.379, abs=0.01)
    with pytest.raises(UnknownNameError):
        fragment_particle(9, 19)
