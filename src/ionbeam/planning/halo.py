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
share their spot's halo. The halo is two Gaussians where the beam model has them
(narrow and wide, :mod:`ionbeam.physics._halo_split`), each convolved with its own σ
ladder of maps, both read in one pass over the voxels per layer (they share the depth
tables' means); the matrices' disc holds the whole halo as one. :class:`HaloField` gives, for spot
weights, what to add to the matrix products so that they carry this halo instead of
the one in the disc.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from ionbeam.errors import ConfigError
from ionbeam.planning import _forward_kernels as kernels
from ionbeam.planning import _halo_kernels as halo_kernels
from ionbeam.planning._beam_setup import BeamSetup

__all__ = [
    "DISC_PARTIAL_BYTES",
    "LEVEL_RATIO",
    "HaloField",
    "HaloTerms",
    "beam_halo",
    "disc_chunks",
]

#: Ratio of successive σ of the filtered maps: the halo between two maps is linearly
#: interpolated in σ, within 2.5 % of a lone spot's halo peak at this spacing (≤ 0.1 % of
#: its dose; a field's smoother fluence does better).
LEVEL_RATIO = 1.2
#: Map pixels per σ of its filter (pixel = σ / this). Splatting a spot and reading a
#: voxel bilinearly add 0 … pixel²/2 of variance (pixel²/3 on average, which the filter
#: leaves out) depending on where they fall between pixels: at 6 pixels per σ the
#: halo's peak density is then right within ±1 %.
PIXELS_PER_SIGMA = 6.0
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
    setup: BeamSetup, weights: np.ndarray, terms: HaloTerms, *, with_let: bool, with_bio: bool
) -> None:
    """Add one beam's full-width halo for spot ``weights`` (particles) to ``terms``: each
    of the halo's Gaussians (``setup.halo_parts``; the whole halo when there are none),
    all of them in one pass over the voxels per energy layer."""
    parts = setup.halo_parts or ((None, setup.model[8], *setup.average[-2:]),)
    part_sigma2 = np.stack([p[1] for p in parts])
    part_idd = np.stack([p[2] for p in parts])
    part_cum = np.stack([p[3] for p in parts])
    spot_u, spot_v, spot_e, _ = setup.spots
    ray_sigma2, _, w0, dw, per_spot = setup.rays
    weights = np.asarray(weights, dtype=np.float64)
    empty = np.zeros(0)
    for e in np.unique(spot_e[weights > 0.0]):
        layer = np.flatnonzero((spot_e == e) & (weights > 0.0))
        w = weights[layer]
        rays = (layer[:, None] * per_spot + np.arange(per_spot)[None, :]).reshape(-1)
        mcs2_w = np.repeat(w, per_spot) @ ray_sigma2[rays] / (w.sum() * per_spot)
        sigma, ranges = halo_kernels.halo_widths(
            int(e), setup.voxels, setup.model, setup.average, mcs2_w, float(w0), float(dw),
            part_sigma2,
        )  # fmt: skip
        ladders = [_levels(float(lo), float(hi)) if hi > 0.0 else empty for lo, hi in ranges]
        if not any(ladder.size for ladder in ladders):
            continue
        levels = np.concatenate(ladders)
        part_levels = np.concatenate([[0], np.cumsum([ladder.size for ladder in ladders])])
        maps, start, origin_u, origin_v, pixel, nu, nv = _layer_maps(
            spot_u[layer], spot_v[layer], w, levels
        )
        halo_kernels.gather_halo(
            int(e), setup.voxels, setup.model, setup.average, sigma, levels,
            part_levels.astype(np.int64), maps, start, origin_u, origin_v, pixel, nu, nv,
            part_idd, part_cum, with_let, with_bio, terms.dose,
            terms.let_dose if with_let else empty,
            terms.alpha_dose if with_bio else empty,
            terms.sqrt_beta_dose if with_bio else empty,
        )  # fmt: skip


def _levels(low: float, high: float) -> np.ndarray:
    """σ ladder (mm) from ``low`` to at least ``high`` in steps of :data:`LEVEL_RATIO`."""
    n = max(2, math.ceil(math.log(max(high, low * 1.0001) / low) / math.log(LEVEL_RATIO)) + 1)
    return low * LEVEL_RATIO ** np.arange(n)


def _layer_maps(u: np.ndarray, v: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> tuple:
    """The layer's maps at every σ of ``levels``, stacked flat as
    :func:`._halo_kernels.gather_halo` reads them: (maps, start, origin u, origin v,
    pixel, nu, nv). Each is :func:`_filtered_map`'s, computed in parallel
    (:func:`._halo_kernels.filtered_maps`; the same to rounding)."""
    pixel = levels / PIXELS_PER_SIGMA
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
    u: np.ndarray, v: np.ndarray, weights: np.ndarray, sigma: float
) -> tuple[np.ndarray, float, float, float]:
    """The layer's fluence (particles/mm²) convolved with a 2-D Gaussian of ``sigma``
    (mm) on a map of pixel σ/6: (map [nu, nv], origin u, origin v, pixel). Splatting
    and reading bilinearly each add a pixel²/6 variance per axis on average; the filter
    leaves it out."""
    pixel = sigma / PIXELS_PER_SIGMA
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
class HaloField:
    """What the full-width halo changes in a dose-influence matrix's products: for
    weights w, ``correction(w)`` = halo by convolution − the halo the matrix holds
    (each spot's, renormalised inside its n σ₁ disc), per quantity. Holds the beams'
    kernel inputs (``setups``), their columns in the plan (``beam_offsets``) and the
    matrix-free sums' most chunks (``n_chunks``, fixed by the grid: see
    :func:`~ionbeam.planning.dose_engine.forward_dose_chunks`; fewer where a beam's
    partial sums would pass :data:`DISC_PARTIAL_BYTES`, see :func:`disc_chunks`)."""

    setups: tuple[BeamSetup, ...]
    beam_offsets: np.ndarray
    grid_size: int
    n_sigma: float
    n_chunks: int
    with_let: bool
    with_bio: bool
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def full(self, weights: np.ndarray) -> HaloTerms:
        """The halo by convolution alone (flat arrays on the dose grid)."""
        terms = _zeros(self.grid_size, self.with_let, self.with_bio)
        for _, setup, w in self._beams(weights):
            beam_halo(setup, w, terms, with_let=self.with_let, with_bio=self.with_bio)
        return terms

    def correction(self, weights: np.ndarray) -> HaloTerms:
        """Halo by convolution minus the matrix's own halo, for spot ``weights``. Each
        beam's part is kept for the last weights it was asked for (a plan's total dose,
        then its per-beam doses in the report, ask for the same beams again)."""
        terms = _zeros(self.grid_size, self.with_let, self.with_bio)
        for b, setup, w in self._beams(weights):
            if not np.any(w):
                continue
            index = setup.voxels[0]
            for total, part in zip(terms, self._beam_correction(b, setup, w), strict=True):
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
        self, b: int, setup: BeamSetup, w: np.ndarray
    ) -> tuple[np.ndarray | None, ...]:
        """Beam ``b``'s correction on its calculation voxels (``setup.voxels[0]``),
        computed on arrays of those voxels alone (a beam reaches about a third of the
        grid; the kernels' per-chunk sums over the whole grid cost more than the dose):
        the same sums in the same order as on the grid, so the same numbers."""
        key = w.tobytes()
        cached = self._cache.get(b)
        if cached is not None and cached[0] == key:
            return cached[1]
        local = _on_own_voxels(setup)
        n_local = int(setup.voxels[0].size)
        terms = _zeros(n_local, self.with_let, self.with_bio)
        beam_halo(local, w, terms, with_let=self.with_let, with_bio=self.with_bio)
        spots, spot_w, rays = local.sub_beams_as_spots(w)  # the disc halo the matrix holds
        inside = kernels.forward_dose(
            spot_w, n_local, spots, local.voxels, local.cells, rays, local.disc_model,
            local.average, self.n_sigma,
            disc_chunks(n_local, self.with_bio, self.n_chunks), 0.0, 1.0, self.with_bio,
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
