"""The nuclear halo's lateral shape: the secondaries sorted by their own lateral width.

At a depth z the secondaries born upstream at z₀ spread laterally by their angle times
z − z₀, on top of (their share of) the primaries' multiple scattering: a continuum of
widths, from fragments and elastically scattered protons born just upstream (as
narrow as the core) to knock-out protons born centimetres upstream at 25–70° (several
centimetres). One Gaussian matched to the second moment of all of them is too wide for
the bulk of their energy, since the few far-travelling ones dominate that moment: at
220 MeV, 152 mm deep, it put 82 % of the energy within 10 mm of the axis where
MCsquare puts 89 %, and spread carbon's heavy fragments (σ ≤ 2.7 mm) over ~21 mm.

The transport (:mod:`._transport_kernels`) sorts every deposit of every packet and
birth by its lateral σ into classes (:data:`SPREAD_CLASS_LOG_EDGES`) and keeps each
class's energy and summed variance. :func:`split_halo` makes of them, per depth bin:

1. the **core** share: classes whose variance is at most :data:`CORE_VARIANCE_FACTOR`
   × the primaries' σ²_MCS (secondaries no wider than the primaries: heavy fragments,
   protons scattered just upstream) join the primaries. (Twice σ²_MCS was tried: the
   classes it adds are up to 40–60 % wider in variance than the core once the beam's σ
   is added, and the axis dose near the end of range rose to +3.4 % of MCsquare's at
   170 MeV against +2.0 % with 1×);
2. the **halo**: the other classes, represented by two Gaussians, a narrow and a wide
   one, each matching the energy and the second moment of its own classes. The
   boundary between them is the one whose two Gaussians best reproduce the halo's
   radial energy distribution: least squares of the share within radius R, at radii
   :data:`FIT_RADII_MM` (0.5–200 mm, log-spaced). Nothing here is fitted to a
   reference: the classes are the model's own secondaries.

Multi-Gaussian lateral models are the published practice for the same reason: for
carbon the triple-Gaussian lateral model of NIRS/HIMAC's scanned beams and its
"trichrome" beam model (Inaniwa and Kanematsu, Phys. Med. Biol. 2015), which gives the
primaries, the heavy fragments and the light fragments lateral spreads of their own; for
protons the core-plus-halo models fitted to measured or MC
halos (Gottschalk et al., Phys. Med. Biol. 60 (2015) 5627; Embriaco, Bellinzona et al.,
2017: Molière core plus a nuclear term).

``halo_weight`` / ``halo_sigma_mm`` stay the whole halo (its energy share and rms
width, as the dose-influence matrices' disc halo uses them); ``halo_narrow_weight`` /
``halo_narrow_sigma_mm`` are the narrow Gaussian; the wide one is the rest (weight
w − w_n, variance (w σ² − w_n σ_n²) / (w − w_n)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ionbeam.physics._halo_split_kernels import best_split

__all__ = [
    "CORE_VARIANCE_FACTOR",
    "FIT_RADII_MM",
    "SPREAD_CLASS_LOG_EDGES",
    "HaloShape",
    "split_halo",
    "wide_halo",
]

#: ln σ (mm) of the edges of the lateral-width classes: 40 classes of ratio 1.25 from
#: 0.05 to 400 mm (deposits outside fall into the first or last class).
SPREAD_CLASS_LOG_EDGES = np.log(np.geomspace(0.05, 400.0, 41))
#: Secondaries whose lateral variance is at most this many times the primaries' σ²_MCS
#: join the core (1: those no wider than the primaries).
CORE_VARIANCE_FACTOR = 1.0
#: Radii (mm) at which the two halo Gaussians' share of the energy within R is matched to
#: the classes' (least squares).
FIT_RADII_MM = np.geomspace(0.5, 200.0, 30)


class HaloShape(NamedTuple):
    """Per depth bin: the halo's share of the energy and its rms σ (mm), and the narrow
    halo Gaussian's share (of the whole energy, ≤ ``weight``) and σ (mm)."""

    weight: np.ndarray
    sigma_mm: np.ndarray
    narrow_weight: np.ndarray
    narrow_sigma_mm: np.ndarray


def split_halo(
    classes: np.ndarray, sigma_mcs_mm: np.ndarray, energy_per_bin: np.ndarray
) -> HaloShape:
    """The halo of the secondaries' deposits by lateral class ``classes`` (2, n_classes,
    n_bins: energy and summed variance, mm²), given the primaries' ``sigma_mcs_mm`` and the
    whole energy deposited per bin ``energy_per_bin`` (MeV; see the module docstring)."""
    deposit = np.asarray(classes[0], dtype=np.float64).T  # (n_bins, n_classes)
    variance = np.asarray(classes[1], dtype=np.float64).T
    mcs2 = np.asarray(sigma_mcs_mm, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_var = np.where(deposit > 0.0, variance / deposit, 0.0)
    core = mean_var <= CORE_VARIANCE_FACTOR * mcs2[:, None]
    deposit = np.where(core, 0.0, deposit)
    variance = np.where(core, 0.0, variance)
    total, total_var = deposit.sum(axis=1), variance.sum(axis=1)
    narrow, narrow_var = best_split(
        np.ascontiguousarray(deposit), np.ascontiguousarray(variance), FIT_RADII_MM**2
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(energy_per_bin > 0.0, total / energy_per_bin, 0.0)
        narrow_weight = np.where(energy_per_bin > 0.0, narrow / energy_per_bin, 0.0)
        sigma = np.where(total > 0.0, np.sqrt(total_var / total), sigma_mcs_mm)
        narrow_sigma = np.where(narrow > 0.0, np.sqrt(narrow_var / narrow), sigma)
    weight = np.clip(weight, 0.0, 1.0)
    return HaloShape(
        weight,
        np.maximum(sigma, sigma_mcs_mm),
        np.clip(narrow_weight, 0.0, weight),
        np.maximum(narrow_sigma, sigma_mcs_mm),
    )


def wide_halo(
    weight: np.ndarray, sigma2: np.ndarray, narrow_weight: np.ndarray, narrow_sigma2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The wide halo Gaussian's weight and variance from the whole halo's (``weight``,
    ``sigma2``) and the narrow one's: w − w_n and (w σ² − w_n σ_n²) / (w − w_n), at least
    the narrow variance (the whole halo's where the wide weight vanishes)."""
    w = np.asarray(weight, dtype=np.float64)
    wn = np.minimum(np.asarray(narrow_weight, dtype=np.float64), w)
    ww = w - wn
    moment = w * np.asarray(sigma2, dtype=np.float64) - wn * np.asarray(narrow_sigma2, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(ww > 1e-9 * np.maximum(w, 1e-300), moment / ww, sigma2)
    return ww, np.maximum(var, narrow_sigma2)
