"""Depth–dose libraries: stacking, caching and input checks."""

from pathlib import Path

import numpy as np
import pytest

from ionbeam.errors import ConfigError, OutOfRangeError
from ionbeam.physics.beam_model_tables import compute_depth_dose_library
from ionbeam.physics.depth_dose import depth_dose


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IONBEAM_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IONBEAM_CACHE", "1")
    return tmp_path


def test_library_rows_equal_single_depth_doses(cache: Path) -> None:
    energies = np.array([70.0, 120.0, 180.0])
    library = compute_depth_dose_library("proton", energies)
    assert library.idd_mev_mm.shape == library.depth_mm.shape == (3, library.depth_mm.shape[1])
    assert library.depth_edges_mm.shape[1] == library.depth_mm.shape[1] + 1
    single = depth_dose("proton", 120.0)
    np.testing.assert_array_equal(library.idd_mev_mm[1], single.idd_mev_mm)
    assert library.r80_mm[1] == single.r80_mm
    assert np.all(np.diff(library.csda_range_mm) > 0)
    assert library.index_of(119.0) == 1


def test_library_is_cached_and_reused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = compute_depth_dose_library("carbon", [150.0, 200.0], energy_spread_rel=0.001)
    assert len(list(cache.glob("depth-dose-library-*.npz"))) == 1
    import ionbeam.physics.beam_model_tables as tables

    with monkeypatch.context() as patch:
        patch.setattr(tables, "_compute", lambda *a: pytest.fail("recomputed"))
        second = compute_depth_dose_library("carbon", [150.0, 200.0], energy_spread_rel=0.001)
    np.testing.assert_array_equal(first.idd_mev_mm, second.idd_mev_mm)
    # any parameter change is a different entry
    compute_depth_dose_library("carbon", [150.0, 200.0], energy_spread_rel=0.002)
    assert len(list(cache.glob("depth-dose-library-*.npz"))) == 2
    assert len(list(cache.glob("depth-dose-row-*.npz"))) == 4  # and each energy's row


def test_a_new_energy_set_computes_only_its_new_energies(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are cached per energy: a set sharing energies with an earlier one (a plan's
    energies after the machine's whole set) computes only the energies never seen, and
    equals the library computed from nothing, bit for bit."""
    import ionbeam.physics.beam_model_tables as tables

    computed: list[float] = []
    original = tables.depth_dose

    def counting(particle, energy, **options):
        computed.append(energy)
        return original(particle, energy, **options)

    monkeypatch.setattr(tables, "depth_dose", counting)
    compute_depth_dose_library("proton", [80.0, 120.0, 160.0])
    assert computed == [80.0, 120.0, 160.0]
    subset = compute_depth_dose_library("proton", [120.0, 140.0, 160.0])
    assert computed[3:] == [140.0]
    monkeypatch.setenv("IONBEAM_CACHE", "0")
    fresh = compute_depth_dose_library("proton", [120.0, 140.0, 160.0])
    for name in ("idd_mev_mm", "depth_edges_mm", "halo_sigma_mm", "r80_mm", "bragg_peak_mm"):
        np.testing.assert_array_equal(getattr(subset, name), getattr(fresh, name))


def test_library_arrays_are_read_only(cache: Path) -> None:
    library = compute_depth_dose_library("helium", [100.0])
    with pytest.raises(ValueError):
        library.idd_mev_mm[0, 0] = 1.0


@pytest.mark.parametrize(
    ("energies", "error"), [([], ConfigError), ([100.0, 500.0], OutOfRangeError)]
)
def test_bad_energy_sets_are_refused(energies: list, error: type) -> None:
    with pytest.raises(error):
        compute_depth_dose_library("proton", energies)
