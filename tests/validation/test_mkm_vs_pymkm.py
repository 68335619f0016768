"""Single-ion z*_1D of ionbeam vs pymkm 1.0.0 (an independent mMKM implementation).

Reference implementation: pymkm 1.0.0 (Pavan et al., https://github.com/BeppeMagro/pymkm),
``ParticleTrack`` (Kiefer–Chatterjee radial dose, energy-dependent core) and
``SpecificEnergy`` (z(b) from the radial dose by annular intersection areas, saturation
z' = z₀√(1 − exp(−(z/z₀)²)), z*_1D = ∫z'² b db / ∫z b db). Both codes are given the same
ion, energy, LET and HSG parameters (Inaniwa 2010: r_d = 0.32 µm, R_n = 3.9 µm,
β = 0.0615 Gy⁻²). pymkm's default trapezoidal rule calls ``numpy.trapz``, removed in
NumPy 2.4, so its Simpson rule is used.

Tolerance 2 %: pymkm integrates on sampled grids of b and r (trapezoid/Simpson on a
few hundred points, with the track's velocity from a 931.5 MeV nucleon mass) while
ionbeam uses Gauss–Legendre segments following the kinks; both conserve energy to
better than 1 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.physics.radiobiology.mkm import single_ion_z1d_star_gy
from ionbeam.physics.radiobiology.tissue import TISSUES
from ionbeam.physics.stopping import let_kev_um

pymkm_track = pytest.importorskip("pymkm.physics.particle_track")
pymkm_energy = pytest.importorskip("pymkm.physics.specific_energy")

HSG = TISSUES["hsg"].mkm_parameters()
CASES = [
    ("proton", 1, 10.0), ("proton", 1, 100.0), ("helium", 2, 5.0), ("helium", 2, 150.0),
    ("carbon", 6, 2.0), ("carbon", 6, 20.0), ("carbon", 6, 290.0), ("oxygen", 8, 8.0),
    ("oxygen", 8, 400.0),
]  # fmt: skip


def _pymkm_z1d_star(z: int, energy: float, let: float) -> float:
    track = pymkm_track.ParticleTrack(
        model_name="Kiefer-Chatterjee", energy=energy, atomic_number=z, let=let * 10.0
    )  # pymkm takes LET in MeV/cm
    specific = pymkm_energy.SpecificEnergy(track, HSG.domain_radius_um)
    z_b, b = specific.single_event_specific_energy()
    z_sat = specific.saturation_corrected_single_event_specific_energy(HSG.saturation_z0_gy, z_b)
    return float(specific.dose_averaged_specific_energy(z_b, b, z_sat, integration_method="simps"))


@pytest.mark.parametrize(("name", "z", "energy"), CASES, ids=lambda v: str(v))
def test_z1d_star_agrees_with_pymkm(name: str, z: int, energy: float) -> None:
    let = float(let_kev_um(name, energy))
    ours = float(single_ion_z1d_star_gy(z, energy, let, HSG))
    assert ours == pytest.approx(_pymkm_z1d_star(z, energy, let), rel=0.02)


def test_saturation_parameter_agrees_with_pymkm() -> None:
    z0 = pymkm_energy.SpecificEnergy.compute_saturation_parameter(0.32, 3.9, 0.0615)
    assert HSG.saturation_z0_gy == pytest.approx(z0, rel=1e-12)
    assert np.isfinite(z0)
