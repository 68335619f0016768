"""Built-in phantoms: names, structures, dimensions from their sources, reproducibility."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient.phantoms import PHANTOMS, make_phantom, phantom_parameters


def test_registry_names() -> None:
    assert set(PHANTOMS) == {"water", "tg119", "head", "lung"}


@pytest.mark.parametrize(
    ("name", "structures", "target"),
    [
        ("water", {"Body", "Target"}, "Target"),
        ("tg119", {"OuterTarget", "Core", "Body"}, "OuterTarget"),
        ("head", {"PTV", "GTV", "Brainstem", "OpticChiasm", "Body", "Brain", "Skull"}, "PTV"),
        ("lung", {"PTV", "GTV", "Lung_L", "Lung_R", "Body", "SpinalCord"}, "PTV"),
    ],
)
def test_structures_and_target(name: str, structures: set, target: str) -> None:
    patient = make_phantom(name, spacing_mm=5.0)
    assert structures <= set(patient.structures)
    assert patient.target_name == target and not patient.target.is_empty
    body = patient.structures["Body"].mask
    for s in patient.structures.values():
        assert not np.any(s.mask & ~body), f"{s.name} sticks out of the body"


def test_water_box_volumes_and_hu() -> None:
    p = make_phantom("water", box_size_mm=100.0, target_size_mm=20.0, spacing_mm=2.0)
    assert p.structures["Body"].volume_cm3 == pytest.approx(1000.0)
    assert p.structures["Target"].volume_cm3 == pytest.approx(8.0)
    assert set(np.unique(p.ct.hu)) == {-1000.0, 0.0}


def test_tg119_dimensions_follow_the_report() -> None:
    """TG-119 (Ezzell et al. 2009): core radius 1 cm, 10 cm long; C-shape 1.5–3.7 cm, 8 cm long."""
    p = make_phantom("tg119", spacing_mm=1.0)
    core = p.structures["Core"]
    assert core.volume_cm3 == pytest.approx(np.pi * 1.0**2 * 10.0, rel=0.03)
    target = p.structures["OuterTarget"]
    annulus = np.pi * (3.7**2 - 1.5**2) * 8.0
    # minus the posterior opening of 150°: matRad's TG-119 target is 167.8 cm³
    assert target.volume_cm3 == pytest.approx(annulus * 210.0 / 360.0, rel=0.03)
    assert target.volume_cm3 == pytest.approx(167.8, rel=0.03)
    # the gap: no target voxel within 1.5 cm of the axis, none beyond 3.7 cm
    x, y, _ = p.grid.axes_mm()
    r = np.hypot(x[:, None], y[None, :])[..., None]
    assert not np.any(target.mask & ((r < 15.0 - 1e-9) | (r > 37.0 + 1e-9)))
    assert not np.any(target.mask & core.mask)
    assert np.allclose(p.ct.hu[p.structures["Body"].mask], 0.0)


def test_head_anatomy_is_realistic() -> None:
    p = make_phantom("head")
    s = p.structures
    assert s.keys() >= {"Eye_L", "Eye_R"}
    assert np.median(p.ct.hu[s["Skull"].mask]) > 1000  # cortical bone
    assert abs(np.median(p.ct.hu[s["Brain"].mask]) - 35) < 5
    assert np.any(p.ct.hu[s["Body"].mask] <= -900)  # air in the sinuses
    # the GTV abuts the brainstem: touching after a 1-voxel dilation, but not overlapping
    assert not np.any(s["GTV"].mask & s["Brainstem"].mask)
    assert np.any(s["GTV"].expand(p.grid.spacing_mm[0]).mask & s["Brainstem"].mask)
    assert s["PTV"].volume_cm3 > s["GTV"].volume_cm3
    # left eye on the patient's left (+x)
    assert s["Eye_L"].centroid_mm[0] > 0 > s["Eye_R"].centroid_mm[0]


def test_lung_tumour_sits_in_lung() -> None:
    p = make_phantom("lung")
    hu = p.ct.hu
    assert np.median(hu[p.structures["Lung_R"].mask]) == -750.0
    assert np.all(hu[p.structures["GTV"].mask] == 30.0)
    gtv = p.structures["GTV"]
    around = gtv.expand(4.0) - gtv
    assert np.median(hu[around.mask]) == -750.0


def test_spacing_parameter_and_reproducibility() -> None:
    a = make_phantom("tg119", spacing_mm=5.0)
    b = make_phantom("tg119", spacing_mm=5.0)
    assert a.grid.spacing_mm == (5.0, 5.0, 5.0)
    assert np.array_equal(a.ct.hu, b.ct.hu)
    assert a.metadata["parameters"]["spacing_mm"] == 5.0
    assert make_phantom("tg119", spacing_mm=2.5).grid.size > 7 * a.grid.size


def test_bad_names_and_parameters() -> None:
    with pytest.raises(UnknownNameError, match="tg119"):
        make_phantom("liver")
    with pytest.raises(ConfigError, match="spacing_mm"):
        make_phantom("water", voxel=2.0)
    with pytest.raises(ConfigError):
        make_phantom("water", spacing_mm=-1.0)
    with pytest.raises(ConfigError, match="inside"):
        make_phantom("water", target_size_mm=300.0)
    assert "spacing_mm" in phantom_parameters("head")
