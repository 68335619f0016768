"""The nuclear halo of every spot at its full width, by convolution per energy layer.

A pencil beam's halo (weight h, σ₂ of 1–2.5 cm for protons above 120 MeV) carries up
to ~15 % of its energy beyond 3 σ₁ of the core. The dose-influence matrix keeps each
spot within n σ₁ (``lateral_cutoff_sigma``) so that it stays sparse, and puts the halo's
energy inside that disc (energy is conserved, a field's interior is right); but then a
single spot's axis is 4–8 % high against Monte Carlo, and dose that the halo carries
out of a small target stays in it (issue 11). The halo is smooth, so it is computed
here at its full width without a matrix: for each energy layer the spots' fluence is
splatted onto maps in the isocentre plane, each map filtered by a Gaussian of one σ of
a geometric ladder (ratio :data:`LEVEL_RATIO`), and every voxel reads the two maps that
bracket its own halo σ (σ₂ at its depth, divided by the magnification):

    halo_j = Σ_layers h(e, wepl_j) ⟨T⟩_j(e) Φ_σ(u_j, v_j) / (mag_u mag_v).

σ²_MCS of the halo is the layer's fluence-weighted mean along its spots' rays (the
halo's own excess over the primaries' spread dominates it); fine sampling's sub-beams
share their spot's halo.

The halo's excess variance (its σ² in water minus the primaries' σ²_MCS in water, at
the voxel's WEPL) is a sum over the secondaries' angles times their lever arm to the
voxel squared. In water the tables hold it per water-equivalent mm; through lung the
lever arm is the geometric distance (≈ 1/SPR times longer per WE mm), as for the
primaries' Fermi–Eyges σ²_MCS along the rays. The excess is therefore multiplied by the
layer's lever-arm factor at the voxel's depth: its rays' σ²_MCS over water's σ²_MCS at
the rays' WEPL there (:func:`_lever_arm_factor`; 1 in water, ≈ 1/SPR² deep in lung,
below 1 behind bone, where it also carries bone's higher scattering power per WE mm).
Without it a spot's halo behind lung kept the width it has behind water and held too
much of its energy near the axis: in the lung phantom's IMPT plan the plain pencil beam
put +4.0 % more dose than MCsquare into the GTV, +2.0 % with it (issue 11; measured in
``docs/validation.md``, "The halo behind lung"). The narrow Gaussian's secondaries were born
just upstream (a few mm² of excess variance at 25–60°), so its lever arm lies in the
material just before the voxel: it takes the local stretch of geometric over
water-equivalent depth over the last :data:`NARROW_LEVER_WINDOW_MM` instead
(:func:`_local_lever_arm_factor`, ≈ 16 in lung behind a water slab where the primaries'
factor is ≈ 2–5); with the primaries' factor the share of the energy beyond 15 mm of a
spot's axis 128 mm deep in such lung was 4.2 % against MCsquare's 7.1 % (7.6 % now;
"The nuclear halo's far tail in lung").

The halo is two Gaussians where the beam model has them (narrow and wide,
:mod:`ionbeam.physics._halo_split`), each convolved with its own σ ladder of maps, both
read in one pass over the voxels per layer (they share the depth tables' means); the
matrices' disc holds the whole halo as one. :class:`HaloField` gives, for spot weights,
what to add to the matrix products so that they carry this halo instead of the one in
the disc.

The correction is computed cheaply (issue 16): the maps' lattice is :data:`PIXELS_PER_SIGMA`
= 3 pixels per σ (the halo's Gaussians are smooth; a lone spot's halo within ±3.5 % of its
own peak, 0.02 % of the spot's axis dose, a field's far better), and the halo the matrix
holds in its discs is read from the matrix itself: the dose engine writes each stored
entry's halo share (uint16, :class:`DiscShares`) as it fills the matrix, so the disc part
is one pass over the beam's entries instead of a matrix-free dose calculation. The
reference path (``HaloField(..., reference=True)``: 6 pixels per σ, each layer's exact σ
range, one pass over the voxels per layer and the matrix-free disc) stays as the tests'
reference; fine sampling (whose matrix kernel writes no shares) keeps the matrix-free
disc. The σ of each voxel is computed where the maps are read (no σ pass per layer),
with the layer's lever-arm factor at the voxel's depth as the reference applies it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from ionbeam.errors import ConfigError
from ionbeam.planning import _forward_kernels as kernels
from ionbeam.planning import _halo_kernels as halo_kernels
from ionbeam.planning._beam_setup import BeamSetup

if TYPE_CHECKING:
    from ionbeam.planning.dose_influence import DoseInfluence

__all__ = [
    "DISC_PARTIAL_BYTES",
    "DISC_SHARE_BYTES",
    "LEVEL_RATIO",
    "PIXELS_PER_SIGMA",
    "REFERENCE_PIXELS_PER_SIGMA",
    "DiscShares",
    "HaloField",
    "HaloTerms",
    "beam_halo",
    "disc_chunks",
]

#: Bounds of the halo's lever-arm factor (:func:`_lever_arm_factor`): the upper one is
#: lung of 0.2 g/cm³ deep inside it ((1 / 0.2)²); rays across wide air gaps are capped
#: there (their maps would grow without a physical gain in a patient).
LEVER_ARM_FACTOR_RANGE = (0.25, 25.0)
#: Below this water σ²_MCS (mm², the first ~8 mm of water) the factor is 1.
LEVER_ARM_MIN_MM2 = 1e-3
#: Water-equivalent length (mm) over which the narrow halo Gaussian's lever-arm factor
#: is the local stretch of geometric over water-equivalent depth
#: (:func:`_local_lever_arm_factor`): its secondaries were born a few mm upstream (an
#: excess variance of a few mm² at angles of 25–60°), so their lever arm lies in the
#: material just before the voxel, not along the primaries' whole path. Measured
#: (``bench/lung_peak_idd.py``): 5 mm puts the share beyond 10–30 mm of the axis 128 mm
#: deep in lung behind a water slab within 0.5 points of MCsquare's.
NARROW_LEVER_WINDOW_MM = 5.0
#: Below this water-equivalent span (mm) of the window the local factor is 1.
LOCAL_LEVER_MIN_SPAN_MM = 0.5
#: Half-width (mm WE) of the table window fitted at a range shifter's exit (:func:`_water_mcs2`).
SHIFTER_FIT_MM = 5.0
#: Ratio of successive σ of the filtered maps: the halo between two maps is linearly
#: interpolated in σ, within 2.5 % of a lone spot's halo peak at this spacing (≤ 0.1 % of
#: its dose; a field's smoother fluence does better).
LEVEL_RATIO = 1.2
#: Map pixels per σ of its filter (pixel = σ / this) of the reference lattice. Splatting a
#: spot and reading a voxel bilinearly add 0 … pixel²/2 of variance (pixel²/3 on average,
#: which the filter leaves out) depending on where they fall between pixels: at 6 pixels
#: per σ the halo's peak density is then right within ±1 %.
REFERENCE_PIXELS_PER_SIGMA = 6.0
#: Map pixels per σ of the lattice reported doses use (pixel ≤ σ/3): a lone spot's halo
#: within ±3.5 % of its own peak density out to 3σ (±0.9 % at 6; ±9 % at 2 pixels per
#: σ), which is ≤ 0.02 % of the spot's axis dose (the halo's peak density is under 1 %
#: of the core's); a field's fluence is smoother and does better. The maps cost ~8× less
#: than at 6 (a quarter of the pixels, half the filter's taps).
PIXELS_PER_SIGMA = 3.0
#: The σ bounds of a layer's ladder (:meth:`_Reach.sigma_bounds`) are widened by this
#: factor each way (the depth samples may miss a local extreme between them).
SIGMA_BOUND_MARGIN = 1.02
#: Bytes per stored entry of :class:`DiscShares` (a uint16 share).
DISC_SHARE_BYTES = 2
#: Maps reach this many σ beyond the layer's outermost spots.
MAP_REACH_SIGMA = 5.0
#: The maps' Gaussian filters stop at this many of their σ.
FILTER_TRUNCATE = 4.5
#: The disc halo's matrix-free sums (:meth:`HaloField.correction`) hold at most this many
#: bytes of partial sums (float64 arrays of the beam's voxels, one per chunk of spots):
#: zeroing and adding 16 chunks cost a quarter of the disc's time on the demo's carbon
#: plan, 4 chunks keep both cores busy.
DISC_PARTIAL_BYTES = 64 << 20


class HaloTerms(NamedTuple):
    """Flat arrays on the dose grid: dose (Gy), LET×dose, α×dose, √β×dose (None when not
    asked for)."""

    dose: np.ndarray
    let_dose: np.ndarray | None
    alpha_dose: np.ndarray | None
    sqrt_beta_dose: np.ndarray | None


def beam_halo(
    setup: BeamSetup,
    weights: np.ndarray,
    terms: HaloTerms,
    *,
    with_let: bool,
    with_bio: bool,
    reference: bool = False,
) -> None:
    """Add one beam's full-width halo for spot ``weights`` (particles) to ``terms``: each
    of the halo's Gaussians (``setup.halo_parts``; the whole halo when there are none),
    on maps of :data:`PIXELS_PER_SIGMA` pixels per σ whose σ ladders bracket the layer's
    widths (:meth:`_Reach.sigma_bounds`; a ladder that begins another's reads its maps,
    :func:`_shared_ladders`), one layer at a time (its maps stay in cache: all
    the layers in one pass per voxel measured 5–10 % slower), each voxel's σ computed where
    it is read (:func:`._halo_kernels.gather_layers`). ``reference``: as before issue 16's cheaper
    correction, :data:`REFERENCE_PIXELS_PER_SIGMA` and each layer's exact σ range, one
    pass over the voxels per layer (:func:`_beam_halo_by_layer`)."""
    if reference:
        _beam_halo_by_layer(setup, weights, terms, with_let=with_let, with_bio=with_bio)
        return
    part_sigma2, part_idd, part_cum = _halo_part_tables(setup)
    spot_u, spot_v = setup.spots[0], setup.spots[1]
    w0, dw = setup.rays[2], setup.rays[3]
    weights = np.asarray(weights, dtype=np.float64)
    reach = _Reach.of(setup)
    empty = np.zeros(0)
    outputs = (
        terms.dose,
        terms.let_dose if with_let else empty,
        terms.alpha_dose if with_bio else empty,
        terms.sqrt_beta_dose if with_bio else empty,
    )
    for e, layer, w, mcs2_w, lever2_w in _weighted_layers(setup, weights, part_sigma2.shape[0]):
        bounds = reach.sigma_bounds(
            int(e), setup, mcs2_w, lever2_w, float(w0), float(dw), part_sigma2
        )
        if bounds is None:
            continue
        levels, part_levels = _shared_ladders([_levels(lo, hi) for lo, hi in bounds])
        u, v = spot_u[layer], spot_v[layer]
        maps, start, origin_u, origin_v, pixel, nu, nv = _layer_maps(
            u, v, w, levels, PIXELS_PER_SIGMA
        )
        far = MAP_REACH_SIGMA * float(levels.max())
        box = np.array([[u.min() - far, u.max() + far, v.min() - far, v.max() + far]])
        halo_kernels.gather_layers(
            np.array([e], dtype=np.int64), mcs2_w[None, :], lever2_w[None, :, :], float(w0),
            float(dw), part_sigma2,
            part_levels[None], box, setup.voxels, setup.model,
            setup.average, levels, maps, start, origin_u, origin_v, 1.0 / pixel, nu, nv,
            part_idd, part_cum, with_let, with_bio, *outputs,
        )  # fmt: skip


def _shared_ladders(ladders: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The σ levels (mm) of a layer's maps and each part's range of them [part, 2]
    (first, last + 1): a part's ladder that begins another's (the same low σ, so the
    same levels bit for bit: the halo's two Gaussians share their lower bound wherever
    both have no excess over the primaries somewhere, e.g. at the entrance) reads that
    one's maps instead of its own copies. The maps are the same numbers (each level is
    splatted and filtered alone), so the halo is too; on TG-119 carbon 45 % of the maps'
    pixels were such copies."""
    order = sorted(range(len(ladders)), key=lambda p: -ladders[p].size)
    kept: list[tuple[int, np.ndarray]] = []
    ranges = np.zeros((len(ladders), 2), dtype=np.int64)
    size = 0
    for p in order:
        ladder = ladders[p]
        for first, other in kept:
            if other.size >= ladder.size and np.array_equal(other[: ladder.size], ladder):
                ranges[p] = (first, first + ladder.size)
                break
        else:
            kept.append((size, ladder))
            ranges[p] = (size, size + ladder.size)
            size += ladder.size
    return np.concatenate([ladder for _, ladder in kept]), ranges


@dataclass(frozen=True)
class _Reach:
    """A beam's voxels sorted by the WEPL of their upstream faces, with running extremes
    of their depth w and magnification (mag_u mag_v): the voxels an energy reaches (its
    depth table meets their WEPL span) are a prefix, so their ranges are a look-up."""

    key: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray
    mag_low: np.ndarray
    mag_high: np.ndarray

    @classmethod
    def of(cls, setup: BeamSetup) -> _Reach:
        _, _, _, mag_u, mag_v, vox_w, vox_wepl, _ = setup.voxels
        up, down = setup.average[0], setup.average[1]
        key = np.where(vox_wepl + down >= 0.0, vox_wepl - up, np.inf)
        order = np.argsort(key, kind="stable")
        w, mag = vox_w[order], (mag_u * mag_v)[order]
        return cls(
            key[order],
            np.minimum.accumulate(w),
            np.maximum.accumulate(w),
            np.minimum.accumulate(mag),
            np.maximum.accumulate(mag),
        )

    def sigma_bounds(
        self,
        e: int,
        setup: BeamSetup,
        mcs2_w: np.ndarray,
        lever2_w: np.ndarray,
        w0: float,
        dw: float,
        part_sigma2: np.ndarray,
    ) -> list[tuple[float, float]] | None:
        """Bounds (mm) of each halo Gaussian's isocentre-plane σ over the voxels energy
        ``e`` reaches (None: none), as :func:`._halo_kernels.halo_widths` computes σ:
        σ² = (σ_air²(w) + σ²_MCS(w) + L(w) excess(WEPL)) / mag, bounded over the reached
        voxels' depths w (sampled every table step and at 64 points; L the lever-arm
        factor ``lever2_w``, :func:`_lever_arm_factor`, linear between the steps as the
        kernels read it) with the excess's extremes over the whole depth table, widened
        by :data:`SIGMA_BOUND_MARGIN` (``lever2_w`` [part, depth]: each part's own L). L is
        bounded at each sampled depth with the terms
        there, not apart (the layers' ladders on TG-119 protons: 10 % more levels than
        without L, 13 % with L's and the other terms' extremes taken apart)."""
        step, max_depth, air_a, air_b, air_c = setup.model[:5]
        n = int(np.searchsorted(self.key, max_depth[e], side="left"))
        if n == 0:
            return None
        w_lo, w_hi = float(self.w_low[n - 1]), float(self.w_high[n - 1])
        nodes = w0 + dw * np.arange(mcs2_w.size)
        ws = np.concatenate([np.linspace(w_lo, w_hi, 64), nodes[(nodes > w_lo) & (nodes < w_hi)]])
        base = air_a[e] + ws * (air_b[e] + ws * air_c[e]) + np.interp(ws, nodes, mcs2_w)
        bins = min(math.ceil(max_depth[e] / step[e]) + 2, part_sigma2.shape[2])
        primaries = setup.model[6][e, :bins]
        mag_lo, mag_hi = float(self.mag_low[n - 1]), float(self.mag_high[n - 1])
        bounds = []
        for sigma2, part_lever in zip(part_sigma2[:, e, :bins], lever2_w, strict=True):
            lever = np.interp(ws, nodes, part_lever)
            excess = np.maximum(sigma2 - primaries, 0.0)
            low = math.sqrt(max(float((base + lever * excess.min()).min()), 1e-6) / mag_hi)
            high = math.sqrt(max(float((base + lever * excess.max()).max()), 1e-6) / mag_lo)
            bounds.append((low / SIGMA_BOUND_MARGIN, high * SIGMA_BOUND_MARGIN))
        return bounds


def _weighted_layers(
    setup: BeamSetup, weights: np.ndarray, n_parts: int
) -> Iterator[tuple[np.integer, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Each energy layer with weighted spots: (energy index, its spots, their weights, the
    fluence-weighted σ²_MCS along its rays at depths w₀ + k Δw, each of the ``n_parts``
    halo Gaussians' lever-arm factor there, [part, depth] (:func:`_lever_arm_factors`))."""
    spot_e = setup.spots[2]
    ray_sigma2, per_spot = setup.rays[0], setup.rays[4]
    for e in np.unique(spot_e[weights > 0.0]):
        layer = np.flatnonzero((spot_e == e) & (weights > 0.0))
        w = weights[layer]
        rays = (layer[:, None] * per_spot + np.arange(per_spot)[None, :]).reshape(-1)
        mcs2_w = np.repeat(w, per_spot) @ ray_sigma2[rays] / (w.sum() * per_spot)
        yield e, layer, w, mcs2_w, _lever_arm_factors(int(e), setup, w, rays, mcs2_w, n_parts)


def _halo_part_tables(setup: BeamSetup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The halo parts' σ² tables, halo IDDs and their cumulative sums, stacked [part, …]
    (one part, the beam model's halo, when the setup has no ``halo_parts``)."""
    parts = setup.halo_parts or ((None, setup.model[8], *setup.average[-2:]),)
    return (
        np.stack([p[1] for p in parts]),
        np.stack([p[2] for p in parts]),
        np.stack([p[3] for p in parts]),
    )


def _beam_halo_by_layer(
    setup: BeamSetup, weights: np.ndarray, terms: HaloTerms, *, with_let: bool, with_bio: bool
) -> None:
    """:func:`beam_halo`'s reference: one layer at a time, each layer's exact σ range
    (:func:`._halo_kernels.halo_widths`), maps of :data:`REFERENCE_PIXELS_PER_SIGMA`."""
    part_sigma2, part_idd, part_cum = _halo_part_tables(setup)
    spot_u, spot_v = setup.spots[0], setup.spots[1]
    w0, dw = setup.rays[2], setup.rays[3]
    weights = np.asarray(weights, dtype=np.float64)
    empty = np.zeros(0)
    for e, layer, w, mcs2_w, lever2_w in _weighted_layers(setup, weights, part_sigma2.shape[0]):
        sigma, ranges = halo_kernels.halo_widths(
            int(e), setup.voxels, setup.model, setup.average, mcs2_w, float(w0), float(dw),
            part_sigma2, lever2_w,
        )  # fmt: skip
        ladders = [_levels(float(lo), float(hi)) if hi > 0.0 else empty for lo, hi in ranges]
        if not any(ladder.size for ladder in ladders):
            continue
        levels = np.concatenate(ladders)
        part_levels = np.concatenate([[0], np.cumsum([ladder.size for ladder in ladders])])
        maps, start, origin_u, origin_v, pixel, nu, nv = _layer_maps(
            spot_u[layer], spot_v[layer], w, levels, REFERENCE_PIXELS_PER_SIGMA
        )
        halo_kernels.gather_halo(
            int(e), setup.voxels, setup.model, setup.average, sigma, levels,
            part_levels.astype(np.int64), maps, start, origin_u, origin_v, pixel, nu, nv,
            part_idd, part_cum, with_let, with_bio, terms.dose,
            terms.let_dose if with_let else empty,
            terms.alpha_dose if with_bio else empty,
            terms.sqrt_beta_dose if with_bio else empty,
        )  # fmt: skip


def _lever_arm_factors(
    e: int, setup: BeamSetup, w: np.ndarray, rays: np.ndarray, mcs2_w: np.ndarray, n_parts: int
) -> np.ndarray:
    """Each halo Gaussian's lever-arm factor at depths w₀ + k Δw, [part, depth]: the whole
    halo's (one part) and the wide Gaussian's are :func:`_lever_arm_factor` (the
    primaries' path-integrated ratio: its secondaries come from centimetres upstream);
    the narrow Gaussian's (the first of two) is :func:`_local_lever_arm_factor` over
    :data:`NARROW_LEVER_WINDOW_MM` (born just upstream). Behind a water slab in lung,
    128 mm deep, the share of the energy beyond 15 mm of the axis was 4.2 % with the
    path-integrated factor for both and is 7.6 % with this, MCsquare 7.1 %; in water
    both factors are 1 (``docs/validation.md``, "The nuclear halo's far tail in lung")."""
    path = _lever_arm_factor(e, setup, w, rays, mcs2_w)
    if n_parts < 2:
        return path[None, :]
    local = _local_lever_arm_factor(setup, w, rays, NARROW_LEVER_WINDOW_MM)
    return np.stack([local] + [path] * (n_parts - 1))


def _local_lever_arm_factor(
    setup: BeamSetup, w: np.ndarray, rays: np.ndarray, window_mm: float
) -> np.ndarray:
    """The square of geometric over water-equivalent depth across the last ``window_mm``
    of WEPL before each depth w₀ + k Δw, along the layer's rays (fluence-weighted mean
    WEPL): the lever-arm factor of secondaries born uniformly in WEPL within that window
    at a fixed angle (1 in water, 1/SPR² in uniform material of SPR p, e.g. ≈ 16 in lung
    of SPR 0.25). The window is cut at the patient's entry (the rays' first WEPL step;
    a range shifter's WET before it is not part of it); 1 where under
    :data:`LOCAL_LEVER_MIN_SPAN_MM` of it is left; within :data:`LEVER_ARM_FACTOR_RANGE`."""
    ray_wepl = setup.rays[1]
    n = setup.rays[0].shape[1]
    if ray_wepl.shape[0] == 0:
        return np.ones(n)
    per_spot = setup.rays[4]
    share = np.repeat(w, per_spot) / (w.sum() * per_spot)
    wepl = share @ ray_wepl[rays].mean(axis=1)
    depth = setup.rays[2] + setup.rays[3] * np.arange(wepl.size)
    rising = np.flatnonzero(np.diff(wepl) > 1e-9)
    out = np.ones(wepl.size)
    if rising.size == 0:
        return out
    keep = np.concatenate([[rising[0]], rising + 1])  # the entry and every step in
    knots_wepl, knots_depth = wepl[keep], depth[keep]
    back = np.maximum(wepl - window_mm, knots_wepl[0])
    span = wepl - back
    ok = (span > LOCAL_LEVER_MIN_SPAN_MM) & (depth >= knots_depth[0])
    stretch = (depth[ok] - np.interp(back[ok], knots_wepl, knots_depth)) / span[ok]
    out[ok] = stretch * stretch
    return np.clip(out, *LEVER_ARM_FACTOR_RANGE)


def _lever_arm_factor(
    e: int, setup: BeamSetup, w: np.ndarray, rays: np.ndarray, mcs2_w: np.ndarray
) -> np.ndarray:
    """The halo's lever-arm factor of energy layer ``e`` at depths w₀ + k Δw (see the
    module docstring): the layer's Fermi–Eyges σ²_MCS along its rays (``mcs2_w``,
    geometric lever arms, the CT's scattering power) over water's at the rays'
    fluence-weighted mean WEPL there, water's counted from the range shifter's exit as
    the rays' are; 1 in water, ≈ 1/SPR² inside lung, within
    :data:`LEVER_ARM_FACTOR_RANGE`."""
    ray_wepl = setup.rays[1]
    if ray_wepl.shape[0] == 0:
        return np.ones_like(mcs2_w)
    per_spot = setup.rays[4]
    share = np.repeat(w, per_spot) / (w.sum() * per_spot)
    wepl_w = share @ ray_wepl[rays].mean(axis=1)
    water = _water_mcs2(setup.model[6][e], float(setup.model[0][e]), wepl_w,
                        setup.range_shifter_wet_mm)  # fmt: skip
    ratio = np.divide(mcs2_w, water, out=np.ones_like(mcs2_w), where=water > LEVER_ARM_MIN_MM2)
    return np.clip(ratio, *LEVER_ARM_FACTOR_RANGE)


def _water_mcs2(table: np.ndarray, step: float, wepl: np.ndarray, shifter: float) -> np.ndarray:
    """Water's σ²_MCS (mm²) at ``wepl`` of an ion that entered water at WEPL ``shifter``
    (the range shifter's WET; it scattered before, in air terms): σ²(W) − ∫₀ˢ T (W − w)² dw
    with σ²(W) = ∫₀ᵂ T (W − w)² dw the beam model's table (step ``step``), the subtracted
    moments from σ² and its first two derivatives at s (σ' = 2 ∫T (W − w), σ'' = 2 ∫T),
    read off a cubic fitted to the table within :data:`SHIFTER_FIT_MM` of s."""
    depth = step * np.arange(table.size)
    sigma2 = np.interp(wepl, depth, table)
    if shifter <= 0.0:
        return sigma2
    near = np.abs(depth - shifter) <= SHIFTER_FIT_MM
    cubic = np.polynomial.Polynomial.fit(depth[near] - shifter, table[near], 3).convert()
    a2, a1, a0 = cubic(0.0), 0.5 * cubic.deriv(1)(0.0), 0.5 * cubic.deriv(2)(0.0)
    lever = np.maximum(wepl - shifter, 0.0)
    return sigma2 - (a2 + 2.0 * lever * a1 + lever * lever * a0)


def _levels(low: float, high: float) -> np.ndarray:
    """σ ladder (mm) from ``low`` to at least ``high`` in steps of :data:`LEVEL_RATIO`."""
    n = max(2, math.ceil(math.log(max(high, low * 1.0001) / low) / math.log(LEVEL_RATIO)) + 1)
    return low * LEVEL_RATIO ** np.arange(n)


def _layer_maps(
    u: np.ndarray,
    v: np.ndarray,
    weights: np.ndarray,
    levels: np.ndarray,
    pixels_per_sigma: float = REFERENCE_PIXELS_PER_SIGMA,
) -> tuple:
    """The layer's maps at every σ of ``levels``, stacked flat as
    :func:`._halo_kernels.gather_halo` reads them: (maps, start, origin u, origin v,
    pixel, nu, nv). Each is :func:`_filtered_map`'s on the same lattice, computed in
    parallel (:func:`._halo_kernels.filtered_maps`; the same to rounding)."""
    pixel = levels / pixels_per_sigma
    reach = MAP_REACH_SIGMA * levels
    origin_u = float(u.min()) - reach
    origin_v = float(v.min()) - reach
    nu = np.ceil((float(u.max()) + reach - origin_u) / pixel).astype(np.int64) + 2
    nv = np.ceil((float(v.max()) + reach - origin_v) / pixel).astype(np.int64) + 2
    start = np.concatenate([[0], np.cumsum(nu * nv)]).astype(np.int64)
    taps = [_gaussian_taps(float(s), float(p)) for s, p in zip(levels, pixel, strict=True)]
    tap_start = np.concatenate([[0], np.cumsum([t.size for t in taps])]).astype(np.int64)
    maps = halo_kernels.filtered_maps(
        u, v, weights, origin_u, origin_v, pixel, nu, nv, start, np.concatenate(taps), tap_start
    )
    return maps, start, origin_u, origin_v, pixel, nu, nv


def _gaussian_taps(sigma: float, pixel: float) -> np.ndarray:
    """The 1-D Gaussian filter of :func:`_filtered_map` (σ less the splat's and the
    read's mean variance, in pixels; ``scipy.ndimage.gaussian_filter``'s weights at
    truncate 4.5)."""
    sd = math.sqrt(max(sigma**2 - pixel**2 / 3.0, 0.25 * pixel**2)) / pixel
    radius = int(FILTER_TRUNCATE * sd + 0.5)
    x = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 / (sd * sd) * x**2)
    return taps / taps.sum()


def _filtered_map(
    u: np.ndarray,
    v: np.ndarray,
    weights: np.ndarray,
    sigma: float,
    pixels_per_sigma: float = REFERENCE_PIXELS_PER_SIGMA,
) -> tuple[np.ndarray, float, float, float]:
    """The layer's fluence (particles/mm²) convolved with a 2-D Gaussian of ``sigma``
    (mm) on a map of pixel σ/``pixels_per_sigma``: (map [nu, nv], origin u, origin v,
    pixel). Splatting and reading bilinearly each add a pixel²/6 variance per axis on
    average; the filter leaves it out."""
    pixel = sigma / pixels_per_sigma
    reach = MAP_REACH_SIGMA * sigma
    origin_u, origin_v = float(u.min()) - reach, float(v.min()) - reach
    nu = math.ceil((float(u.max()) + reach - origin_u) / pixel) + 2
    nv = math.ceil((float(v.max()) + reach - origin_v) / pixel) + 2
    x = (u - origin_u) / pixel
    y = (v - origin_v) / pixel
    i = np.floor(x).astype(np.int64)
    k = np.floor(y).astype(np.int64)
    fx, fy = x - i, y - k
    flat = np.concatenate([(i + di) * nv + (k + dk) for di in (0, 1) for dk in (0, 1)])
    share = np.concatenate([weights * wx * wy for wx in (1.0 - fx, fx) for wy in (1.0 - fy, fy)])
    fluence = np.bincount(flat, share, minlength=nu * nv).reshape(nu, nv)
    filter_px = math.sqrt(max(sigma**2 - pixel**2 / 3.0, 0.25 * pixel**2)) / pixel
    smooth = gaussian_filter(fluence, filter_px, mode="constant", truncate=FILTER_TRUNCATE)
    return smooth / (pixel * pixel), origin_u, origin_v, pixel


@dataclass(frozen=True, eq=False)
class DiscShares:
    """The halo a dose-influence matrix holds inside its columns' cut-off discs, kept with
    the matrix: its compressed columns (``indptr``, ``indices``), the float32 values of
    its dose, LET×dose, α×dose and √β×dose matrices (``values``, the same arrays, None for
    one not computed) and each entry's halo share ``share`` (uint16, in units of
    1/65535: the halo's part of the entry's lateral profile, written by the dose engine
    as it fills the matrix; ±7.6e-6 of the entry). The disc halo of weights w is then
    Σ_s w_s share·M[:, s], one pass over the entries (:meth:`beam_sums`), instead of the
    matrix-free dose it cost before (as much as filling the matrix again)."""

    indptr: np.ndarray
    indices: np.ndarray
    values: tuple
    share: np.ndarray

    @classmethod
    def of(cls, influence: DoseInfluence, share: np.ndarray) -> DiscShares:
        """The shares ``share`` of ``influence``'s matrices (their arrays, not copies)."""
        matrices = (influence.dose, influence.let_dose, influence.alpha_dose,
                    influence.sqrt_beta_dose)  # fmt: skip
        values = tuple(None if m is None else m.data for m in matrices)
        return cls(influence.dose.indptr, influence.dose.indices, values, share)

    def beam_sums(
        self,
        first: int,
        weights: np.ndarray,
        voxels: np.ndarray,
        grid_size: int,
        n_chunks: int,
        *,
        with_let: bool,
        with_bio: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The disc halo of the beam whose columns start at ``first`` (spot
        ``weights``) on its voxels ``voxels`` (flat grid indices, in their order): dose,
        LET×dose, α×dose, √β×dose (zeros where not asked for), its columns summed in
        ``n_chunks`` chunks of about equal entries (a function of the sizes only)."""
        local = np.full(grid_size, -1, dtype=np.int32)
        local[voxels] = np.arange(voxels.size, dtype=np.int32)
        n = weights.size
        columns = self.indptr[first : first + n + 1].astype(np.int64)
        goal = columns[0] + np.arange(n_chunks + 1) * ((columns[-1] - columns[0]) / n_chunks)
        bounds = np.searchsorted(columns, goal, side="left").astype(np.int64)
        bounds[0], bounds[-1] = 0, n
        bounds = np.maximum.accumulate(np.minimum(bounds, n))
        empty = np.empty(0, dtype=np.float32)
        dose, let_dose, alpha, sqrt_beta = (empty if v is None else v for v in self.values)
        return halo_kernels.disc_sums(
            self.indptr, self.indices, self.share, dose, let_dose if with_let else empty,
            alpha if with_bio else empty, sqrt_beta if with_bio else empty, weights,
            int(first), local, int(voxels.size), bounds, with_let, with_bio,
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class HaloField:
    """What the full-width halo changes in a dose-influence matrix's products: for
    weights w, ``correction(w)`` = halo by convolution − the halo the matrix holds
    (each spot's, renormalised inside its n σ₁ disc), per quantity. Holds the beams'
    kernel inputs (``setups``), their columns in the plan (``beam_offsets``) and the
    matrix-free sums' most chunks (``n_chunks``, fixed by the grid: see
    :func:`~ionbeam.planning.dose_engine.forward_dose_chunks`; fewer where a beam's
    partial sums would pass :data:`DISC_PARTIAL_BYTES`, see :func:`disc_chunks`). ``disc``:
    the matrix's own disc halo (:class:`DiscShares`; None: computed matrix-free, as for
    fine sampling), ``reference``: the correction as before issue 16's cheaper one (maps of
    :data:`REFERENCE_PIXELS_PER_SIGMA`, the matrix-free disc; see :func:`beam_halo`)."""

    setups: tuple[BeamSetup, ...]
    beam_offsets: np.ndarray
    grid_size: int
    n_sigma: float
    n_chunks: int
    with_let: bool
    with_bio: bool
    disc: DiscShares | None = None
    reference: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def full(self, weights: np.ndarray) -> HaloTerms:
        """The halo by convolution alone (flat arrays on the dose grid)."""
        terms = _zeros(self.grid_size, self.with_let, self.with_bio)
        for _, setup, w in self._beams(weights):
            beam_halo(setup, w, terms, with_let=self.with_let, with_bio=self.with_bio,
                      reference=self.reference)  # fmt: skip
        return terms

    def correction(self, weights: np.ndarray, *, with_let: bool = True) -> HaloTerms:
        """Halo by convolution minus the matrix's own halo, for spot ``weights``. Each
        beam's part is kept for the last weights it was asked for (a plan's total dose,
        then its per-beam doses in the report, ask for the same beams again).
        ``with_let=False``: no LET×dose (None), for the optimizer's offsets, which read
        none (the other terms the same bit for bit)."""
        let = self.with_let and with_let
        terms = _zeros(self.grid_size, let, self.with_bio)
        for b, setup, w in self._beams(weights):
            if not np.any(w):
                continue
            index = setup.voxels[0]
            parts = self._beam_correction(b, setup, w, let)
            for total, part in zip(terms, parts, strict=True):
                if total is not None and part is not None:
                    total[index] += part
        return terms

    def keep_scaled(self, weights: np.ndarray, factor: float) -> None:
        """Keep, for spot weights ``factor`` × ``weights`` (factor > 0), the correction
        of ``weights`` times ``factor``, for each beam whose correction for ``weights``
        is kept: the correction scales with a common factor (each layer's halo width is
        a fluence-weighted mean, which the factor leaves as it is), so SFUD's rescaled
        plan needs no second halo calculation."""
        if not (math.isfinite(factor) and factor > 0.0):
            raise ConfigError(f"the weights' factor must be finite and > 0; got {factor!r}")
        for b, _, w in self._beams(weights):
            cached = self._cache.get(b)
            if cached is None or cached[0] != w.tobytes():
                continue
            parts = tuple(None if p is None else p * factor for p in cached[1])
            self._cache[b] = ((w * factor).tobytes(), parts)

    def _beam_correction(
        self, b: int, setup: BeamSetup, w: np.ndarray, with_let: bool
    ) -> tuple[np.ndarray | None, ...]:
        """Beam ``b``'s correction on its calculation voxels (``setup.voxels[0]``),
        computed on arrays of those voxels alone (a beam reaches about a third of the
        grid; the kernels' per-chunk sums over the whole grid cost more than the dose):
        the same sums in the same order as on the grid, so the same numbers. A kept part
        with LET×dose serves a call without it; one without serves no call with it."""
        key = w.tobytes()
        cached = self._cache.get(b)
        if cached is not None and cached[0] == key and (cached[1][1] is not None or not with_let):
            return cached[1] if with_let else (cached[1][0], None, *cached[1][2:])
        local = _on_own_voxels(setup)
        n_local = int(setup.voxels[0].size)
        terms = _zeros(n_local, with_let, self.with_bio)
        beam_halo(local, w, terms, with_let=with_let, with_bio=self.with_bio,
                  reference=self.reference)  # fmt: skip
        chunks = disc_chunks(n_local, self.with_bio, self.n_chunks)
        if (
            self.disc is not None and not setup.fine and not self.reference
        ):  # the disc halo the matrix holds
            inside = self.disc.beam_sums(
                int(self.beam_offsets[b]), w, setup.voxels[0], self.grid_size, chunks,
                with_let=with_let, with_bio=self.with_bio,
            )  # fmt: skip
        else:
            spots, spot_w, rays = local.sub_beams_as_spots(w)
            inside = kernels.forward_dose(
                spot_w, n_local, spots, local.voxels, local.cells, rays, local.disc_model,
                local.average, self.n_sigma, chunks, 0.0, 1.0, self.with_bio, local.cross,
            )  # fmt: skip
        parts = tuple(
            None if total is None else total - disc
            for total, disc in zip(terms, inside, strict=True)
        )
        self._cache[b] = (key, parts)
        return parts

    def _beams(self, weights: np.ndarray) -> list[tuple[int, BeamSetup, np.ndarray]]:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        return [
            (b, s, np.ascontiguousarray(w[self.beam_offsets[b] : self.beam_offsets[b + 1]]))
            for b, s in enumerate(self.setups)
            if s.n_spots
        ]


def disc_chunks(n_voxels: int, with_bio: bool, most: int) -> int:
    """Chunks of spots of the disc halo's matrix-free sums over a beam's ``n_voxels``
    voxels: at most ``most``, at least 2, their partial sums (dose and LET×dose, and α×dose
    and √β×dose ``with_bio``) within :data:`DISC_PARTIAL_BYTES`. A function of the
    inputs' sizes only, never of the thread count (the sums' grouping fixes their
    rounding)."""
    per_chunk = 8 * (4 if with_bio else 2) * max(int(n_voxels), 1)
    return max(1, min(int(most), max(2, DISC_PARTIAL_BYTES // per_chunk)))


def _on_own_voxels(setup: BeamSetup) -> BeamSetup:
    """``setup`` with its calculation voxels numbered 0… in their order, so that the
    kernels write arrays of the beam's voxels instead of the whole grid."""
    index = setup.voxels[0]
    own = np.arange(index.size, dtype=index.dtype)
    return dataclasses.replace(setup, voxels=(own, *setup.voxels[1:]))


def _zeros(n: int, with_let: bool, with_bio: bool) -> HaloTerms:
    def array(wanted: bool) -> np.ndarray | None:
        return np.zeros(n) if wanted else None

    return HaloTerms(np.zeros(n), array(with_let), array(with_bio), array(with_bio))
