"""Folding a ripple filter's water-equivalent-thickness distribution into a beam model.

A beam that crosses a ripple filter reaches the patient as a mixture of beams,
each having crossed one thickness t of the filter (probability p(t)): the
laterally integrated dose at water-equivalent depth z is

    IDD_RiFi(z) = Σ_t p(t) IDD(z + t),

the pristine curve shifted upstream by t (the filter's water-equivalent
thickness is already behind the beam) and averaged. The dose-averaged tables
follow with the dose as weight (LET_d, α, √β, the halo's share), the lateral
variances with the dose of their component as weight (core: (1 − w) IDD, halo:
w IDD). The filter's multiple scattering widens the spot in air like a slab of
its mean WET (:meth:`ionbeam.machine.beamline.RippleFilter.added_variance_mm2`).
Peak depths and R80 are taken from the folded curves.

Everything happens on the beam model's uniform depth grid (one step per energy),
with linear interpolation; the integral of the IDD beyond the first t mm is
conserved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ionbeam.machine.beamline import RippleFilter

if TYPE_CHECKING:
    from ionbeam.machine.beam_model import BeamModel

__all__ = ["fold_ripple_filter"]


def _shifted(table: np.ndarray, shift_steps: np.ndarray) -> np.ndarray:
    """``table`` [..., n_energy, n_depth] read at index j + shift (per energy), linear,
    0 beyond the last point."""
    n = table.shape[-1]
    position = np.arange(n)[None, :] + shift_steps[:, None]
    low = np.floor(position).astype(np.int64)
    frac = position - low
    inside = low + 1 < n
    low_c = np.clip(low, 0, n - 1)
    high_c = np.clip(low + 1, 0, n - 1)
    gathered_low = np.take_along_axis(table, np.broadcast_to(low_c, table.shape), axis=-1)
    gathered_high = np.take_along_axis(table, np.broadcast_to(high_c, table.shape), axis=-1)
    out = gathered_low * (1.0 - frac) + gathered_high * frac
    return np.where(inside, out, 0.0)


def _fold(
    model: BeamModel, thickness_mm: np.ndarray, probability: np.ndarray
) -> dict[str, np.ndarray]:
    """Folded tables (float64) of ``model`` for the WET distribution."""
    idd = np.asarray(model.idd_gy_mm2, dtype=np.float64)
    w = np.asarray(model.halo_weight, dtype=np.float64)
    weighted = {
        "idd": idd,
        "let": idd * model.let_d_kev_um,
        "halo": idd * w,
        "core_var": idd * (1.0 - w) * model.sigma_mcs_mm2,
        "halo_var": idd * w * model.halo_sigma_mm2,
    }
    if model.halo_narrow_weight is not None and model.halo_narrow_sigma_mm2 is not None:
        narrow = idd * np.asarray(model.halo_narrow_weight, dtype=np.float64)
        weighted["narrow"] = narrow
        weighted["narrow_var"] = narrow * model.halo_narrow_sigma_mm2
    if model.has_biology:
        weighted["alpha"] = idd[None] * np.asarray(model.alpha_gy, dtype=np.float64)
        weighted["sqrt_beta"] = idd[None] * np.asarray(model.sqrt_beta_gy, dtype=np.float64)
    folded = {name: np.zeros_like(array) for name, array in weighted.items()}
    for t, p in zip(thickness_mm, probability, strict=True):
        steps = t / np.asarray(model.depth_step_mm, dtype=np.float64)
        for name, array in weighted.items():
            folded[name] += p * _shifted(array, steps)
    return folded


def _ratio(numerator: np.ndarray, denominator: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    out = np.array(fallback, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _peak_and_r80(depth_step: np.ndarray, idd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak depth (parabola through the highest three points) and distal 80 % depth."""
    n_e, n = idd.shape
    peak = np.empty(n_e)
    r80 = np.empty(n_e)
    for e in range(n_e):
        d = idd[e]
        i = int(np.argmax(d))
        x = i * depth_step[e]
        if 0 < i < n - 1:
            curvature = d[i - 1] - 2.0 * d[i] + d[i + 1]
            if curvature < 0:
                x += 0.5 * depth_step[e] * (d[i - 1] - d[i + 1]) / curvature
        peak[e] = x
        below = np.nonzero(d[i:] < 0.8 * d[i])[0]
        if below.size == 0:
            r80[e] = (n - 1) * depth_step[e]
            continue
        j = i + int(below[0])
        d0, d1 = d[j - 1], d[j]
        r80[e] = ((j - 1) + (0.8 * d[i] - d0) / (d1 - d0)) * depth_step[e]
    return peak, r80


def fold_ripple_filter(model: BeamModel, ripple_filter: RippleFilter) -> BeamModel:
    """``model`` (pristine) with ``ripple_filter`` in the beam (see the module docstring)."""
    thickness, probability = ripple_filter.wet_distribution()
    f = _fold(model, thickness, probability)
    idd = f["idd"]
    tables = {
        "idd_gy_mm2": idd,
        "let_d_kev_um": _ratio(f["let"], idd, model.let_d_kev_um),
        "halo_weight": _ratio(f["halo"], idd, model.halo_weight),
        "sigma_mcs_mm2": _ratio(f["core_var"], idd - f["halo"], model.sigma_mcs_mm2),
        "halo_sigma_mm2": _ratio(f["halo_var"], f["halo"], model.halo_sigma_mm2),
    }
    narrow_w, narrow_s2 = model.halo_narrow_weight, model.halo_narrow_sigma_mm2
    if "narrow" in f and narrow_w is not None and narrow_s2 is not None:
        tables["halo_narrow_weight"] = _ratio(f["narrow"], idd, narrow_w)
        tables["halo_narrow_sigma_mm2"] = _ratio(f["narrow_var"], f["narrow"], narrow_s2)
    biology: dict[str, np.ndarray] = {}
    if model.has_biology and model.alpha_gy is not None and model.sqrt_beta_gy is not None:
        biology = {
            "alpha_gy": _ratio(f["alpha"], idd[None], model.alpha_gy),
            "sqrt_beta_gy": _ratio(f["sqrt_beta"], idd[None], model.sqrt_beta_gy),
        }
    peak, r80 = _peak_and_r80(np.asarray(model.depth_step_mm), idd)
    z = np.array([-100.0, 0.0, 100.0])
    added = np.stack(
        [ripple_filter.added_variance_mm2(model.particle, model.energies_mev_u, zi) for zi in z]
    )
    return replace(
        model,
        beam_line=model.beam_line.with_ripple_filter(ripple_filter),
        ripple_filter=ripple_filter,
        bragg_peak_mm=_frozen(peak),
        r80_mm=_frozen(r80),
        sigma0_mm2=_frozen(model.sigma0_mm2 + added[1]),
        sigma1_mm2_per_mm=_frozen(model.sigma1_mm2_per_mm + (added[2] - added[0]) / 200.0),
        sigma2_mm2_per_mm2=_frozen(
            model.sigma2_mm2_per_mm2 + (added[2] + added[0] - 2 * added[1]) / (2 * 100.0**2)
        ),
        **cast(
            "dict[str, Any]",
            {k: _frozen(v.astype(np.float32)) for k, v in {**tables, **biology}.items()},
        ),
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
