"""Error types: one root, builtin-compatible subclasses, messages that say what to do."""

import pytest

from ionbeam import IonbeamError
from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics import get_particle


def test_unknown_particle_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_particle("neon")
    message = str(info.value)
    assert "neon" in message
    for name in ("proton", "helium", "carbon", "oxygen"):
        assert name in message
    assert isinstance(info.value, IonbeamError)
    assert isinstance(info.value, LookupError)


def test_out_of_range_is_a_value_error_with_bounds() -> None:
    err = OutOfRangeError("energy", 500.0, 1.0, 450.0, "MeV/u")
    assert isinstance(err, ValueError)
    assert "1–450 MeV/u" in str(err) and "500" in str(err)


def test_particle_aliases_and_masses() -> None:
    """Nuclear masses: CODATA 2018 (proton, alpha) and AME2020 (12C, 16O) less electrons."""
    assert get_particle("12C") is get_particle("carbon")
    carbon = get_particle("carbon")
    assert (carbon.z, carbon.a) == (6, 12)
    # 12C nucleus: 12 u minus six electrons = 11174.86 MeV
    assert carbon.mass_mev == pytest.approx(11174.86, abs=0.01)
    assert get_particle("proton").mass_mev == pytest.approx(938.272, abs=1e-3)
    assert get_particle("alpha").mass_mev == pytest.approx(3727.379, abs=1e-3)
