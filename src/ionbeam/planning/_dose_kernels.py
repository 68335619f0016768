"""Numba kernels of the pencil-beam dose engine (pure functions on arrays).

One beam at a time. The voxels where dose is computed come sorted into a
regular grid of square *cells* in the isocentre plane (u, v: the spot
position whose central ray passes through the voxel), so that a spot only
visits the cells within its cut-off radius. The kernels take their inputs
grouped in tuples of arrays (see :mod:`._beam_setup`, which builds them):

* ``voxels`` = (flat index on the dose grid, u, v (mm, isocentre plane),
  mag_u, mag_v (magnification 1 + w/SAD of isocentre-plane distances at the
  voxel's depth), w (depth downstream of the isocentre plane, mm), WEPL (mm,
  range shifter included), tissue index);
* ``cells`` = (start of each cell in the voxel arrays, origin (u, v), cell size,
  number of cells (nu, nv));
* ``spots`` = (u, v, energy index, cut-off radius in the isocentre plane);
* ``split`` = (sub-beam offsets du, dv [n_energy, K], weights [K], variance in
  air the split takes [n_energy], then what the sub-beams' mean paths read: the
  angle–position covariance M₁ [n_rays, nw] along each sub-beam's ray (same depths as
  ``rays``), the depth where each ray enters the patient [n_rays], the beam's WEPL
  lattice [nu, nv, nw'] with its start and step (fan coordinates)); K = 1 with zero
  offsets (and empty path tables) is a plain pencil beam;
* ``rays`` = (σ²_MCS [n_rays, nw] and WEPL [n_rays, 2, nw] along each spot's or
  sub-beam's own ray, traced through the CT as a pair of rays either side of its
  axis (:mod:`._ray_tables`), at depths w₀ + k Δw; w₀, Δw; rays per spot K): ray
  s·K + m is sub-beam m of spot s (K = 1: the spot's central ray). A plain pencil
  beam takes σ²_MCS from its spot's ray and the IDD at the voxel's own WEPL; a
  sub-beam (fine sampling) takes both from its own ray, half at each ray of its
  pair;
* ``model`` = the beam model's tables on uniform depth grids (``step[e]``,
  ``max_depth[e]``, air variance coefficients a, b, c, IDD, σ_MCS², halo
  weight and σ², LET_d, α and √β per tissue);
* ``average`` = what averages the dose over each voxel (see
  :mod:`._voxel_average`): per voxel the WEPL from its upstream face to its
  centre and from its centre to its downstream face (mm), then the depth
  tables (IDD cumulative; IDD × LET_d, IDD × α, IDD × √β and their cumulatives,
  the biology ones with a row per (tissue, energy)).

The dose of one (sub-)beam at voxel j (Gy per particle) is

    ⟨idd⟩(e, wepl) · [(1 − h) Ĝ₁(r; σ₁) + h Ĝ₂(r; σ₂)]

with ⟨idd⟩ the mean of the IDD over the voxel's WEPL span (exact for the
table's linear interpolant; a sub-beam shifts the span to its own WEPL), h the
halo's share of that dose, ⟨h·idd⟩ / ⟨idd⟩ over the same span,
σ₁² = σ_air(e, w)² + σ²_MCS(ray, w) (the Fermi–Eyges variance along the ray
through the patient's materials; σ_air² includes the variance the voxel's
lateral extent adds, the lateral half of the voxel average),
σ₂² = σ₁² + [σ_halo² − σ_MCS²](e, wepl) (the halo's excess over the primaries'
spread in water). Both are cut at r_c = n σ₁ and renormalised to unit integral over
that disc: the core Ĝ₁ truncated (its own values times 1/(1 − e^(−n²/2))), the halo
Ĝ₂ lowered by its value at r_c so that it falls continuously to zero there. Every
spot thus deposits its whole IDD at every depth (energy conservation) and the matrix
stays sparse. The halo's energy beyond r_c (up to ~15 % of a 220 MeV spot's) is thus
held inside the disc; reported doses replace it by the halo at its full width
(:mod:`.halo`, by convolution: :func:`._forward_kernels.forward_dose` with ``halo`` = 0
gives the rest).
Tables are read by linear interpolation; the widths at the voxel's centre
WEPL (clamped to the table). Beyond ``max_depth[e]`` a spot deposits nothing:
a voxel counts when its WEPL span meets [0, max_depth[e]). Fine sampling
(Soukup et al. 2005, as in matRad and RayStation) sums K sub-beams: a 2-D
area-weighted split of the spot's Gaussian in air whose sub-beams sum to it within 1 %
of its peak (:mod:`._sub_beam_rule`), each sub-beam with its own WEPL
and spread along its own ray, and with *lateral range mixing*: a sub-beam's remaining
lateral variance at a voxel is its residual spread in air, σ²_air − split (protons that
entered off the sub-beam's axis and travel parallel to it, through the voxel's own
ray), plus its multiple scattering σ²_MCS (protons that entered on the axis and were
deflected, along the paths below). A proton arriving at lateral offset x entered,
by Gaussian conditioning, at a · x on average, a = (σ²_air − split) / (σ²_air − split +
σ²_MCS); the kernel takes the two-point model of that: the share a of the sub-beam's
dose at the voxel along the voxel's own ray (as the plain pencil beam, Schaffner et
al. 1999), its protons' paths spread around that ray by the scattering they gathered
(:func:`_parallel_paths`: the Fermi–Eyges variance of x(w) − x(w'), four paths at the
medians of its quarters; the two shares together then have the Gaussian conditional's
mean and variance), 1 − a along the mean path of the sub-beam's scattered protons that reach the
voxel (:func:`_mean_path`): a proton that entered on the sub-beam's axis and arrives at
lateral offset x was, on average, at x · g(w') at depth w', with g = C(w', w) / σ²_MCS(w)
the Fermi–Eyges covariance of its positions over its variance (the most likely path of
proton CT, Schulte et al. 2008), which grows from 0 at entry to 1 at the voxel, late
where the scattering is late, and the paths spread around that mean with the
conditional variance σ²(w') − C²/σ²(w) (two paths, half each). The first 40 % of the way
is read along the sub-beam's own ray pair (half at each ray; Hong et al. 1996, Soukup et
al. 2005), exact at an interface on its axis (a half bone slab: R80 beside the edge
within 0.3 mm of MC); the rest in three straight segments at the paths' positions at
their middles, each on the beam's WEPL-lattice ray nearest it (the lattice's rays run
through the voxel centres). A sub-beam in lung beside a dense tumour then reaches the
tumour's voxels only through the tumour's last millimetres along its path, as its
protons do: a lung-margin spot's tumour dose −6 % against MC (the plain pencil beam
−17 %; the sub-beam's ray alone +21 %, its whole dose along it +91 %;
``bench/lung_edge.py``; −0.6 % with the parallel share's paths). Lung phantom IMPT
against MC: γ 2 %/2 mm 97.2 %, target mean +3.8 % (plain 96.0 %, +4.0 %; with the
parallel share at the voxel's own WEPL 96.5 %, +5.1 %; with the sub-beam's ray alone
93.1 %, +8.1 %). As the split takes all the spread in air (a → 0), every sub-beam reads
its paths only. Both shares' cores are multiplied by the sub-beam's edge factor
(:func:`._edge_kernels.sub_beam_edge`, 1 where the rays around the voxel scatter alike):
the sub-beam's protons entered spread around its axis, each scattered by its own path's
materials, so beside a dense slab's edge more spread out of the dense side's shadow than
into it (Goitein 1978); half bone slab: the dose at x = +0.5 / −0.5 mm 1.047 (MC 1.071;
with the broad-beam factor on the parallel share alone 1.025, without any 0.992).

Two passes fill a CSC matrix: :func:`count_entries` (voxels per spot), then
:func:`fill_entries` at the offsets of the prefix sum. Both run in parallel
over spots and visit voxels in the same order, so the matrix is
deterministic. :func:`._forward_kernels.forward_dose` accumulates w_s × dose into
per-chunk dose arrays without storing the matrix, with the helpers of this module.

The dose engine builds plain pencil beams' matrices with :mod:`._layer_kernels`, which
computes each voxel's depth part once per energy layer rather than once per spot;
:func:`count_entries` and :func:`fill_entries` stay as its reference, equal to it bit for
bit (``tests/unit/planning/test_layer_kernels.py``): a change to the physics of one is
made in the other.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._edge_kernels import sub_beam_edge

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = [
    "count_entries",
    "count_entries_fine",
    "fill_entries",
    "fill_entries_fine",
    "sort_into_cells",
]

_TWO_PI = 2.0 * math.pi


@numba.njit(cache=True)
def sort_into_cells(
    u: np.ndarray, v: np.ndarray, u0: float, v0: float, cell_mm: float, nu: int, nv: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of voxels into cells: (order of voxels, start of each cell [nu*nv+1])."""
    n = u.size
    cell = np.empty(n, dtype=np.int64)
    counts = np.zeros(nu * nv + 1, dtype=np.int64)
    for j in range(n):
        iu = min(max(int((u[j] - u0) / cell_mm), 0), nu - 1)
        iv = min(max(int((v[j] - v0) / cell_mm), 0), nv - 1)
        cell[j] = iu * nv + iv
        counts[cell[j] + 1] += 1
    for c in range(nu * nv):
        counts[c + 1] += counts[c]
    cursor = counts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):
        order[cursor[cell[j]]] = j
        cursor[cell[j]] += 1
    return order, counts


@numba.njit(cache=True, inline="always")
def _lookup(table: np.ndarray, e: int, k: int, f: float) -> float:
    return (1.0 - f) * table[e, k] + f * table[e, k + 1]


@numba.njit(cache=True, inline="always")
def _cell_range(x: float, radius: float, origin: float, cell_mm: float, n: int) -> tuple[int, int]:
    lo = int((x - radius - origin) // cell_mm)
    hi = int((x + radius - origin) // cell_mm)
    return max(lo, 0), min(hi, n - 1)


@numba.njit(cache=True, inline="always")
def _cut_gaussian(r2: float, sigma2: float, q: float) -> float:
    """2-D Gaussian of variance ``sigma2`` per axis, lowered by its value at the cut-off
    radius r_c (q = r_c²/2σ²) so that it reaches zero there, and renormalised to unit
    integral over the disc: (e^(−r²/2σ²) − e^(−q)) / (2πσ² (1 − e^(−q)(1 + q)))."""
    edge = math.exp(-q)
    # 1 − e^(−q)(1 + q), by its series where it would cancel (q ≥ 0.15 in practice)
    norm = q * q * (0.5 - q / 3.0) if q < 1e-2 else 1.0 - edge * (1.0 + q)
    if norm <= 1e-12:
        return 0.0
    return (math.exp(-0.5 * r2 / sigma2) - edge) / (_TWO_PI * sigma2 * norm)


@numba.njit(cache=True, inline="always")
def _truncated_gaussian(r2: float, sigma2: float, q: float) -> float:
    """2-D Gaussian of variance ``sigma2`` per axis truncated at the cut-off radius r_c
    (q = r_c²/2σ²) and renormalised to unit integral over the disc:
    e^(−r²/2σ²) / (2πσ² (1 − e^(−q))). Unlike :func:`_cut_gaussian` its value inside
    the disc is the Gaussian's own (times 1/(1 − e^(−q)), +1.1 % at 3σ): lowering it to
    zero at 3σ raised the axis by 5 % against Monte Carlo (issue 11)."""
    return math.exp(-0.5 * r2 / sigma2) / (_TWO_PI * sigma2 * -math.expm1(-q))


@numba.njit(cache=True, inline="always")
def _along_ray(table: np.ndarray, r: int, w: float, w0: float, dw: float) -> float:
    """Linear interpolation of a ray table [n_rays, nw] at depth w (clamped)."""
    x = min(max((w - w0) / dw, 0.0), table.shape[1] - 1.0)
    k = min(int(x), table.shape[1] - 2)
    f = x - k
    return (1.0 - f) * table[r, k] + f * table[r, k + 1]


@numba.njit(cache=True, inline="always")
def _pair_wepl(table: np.ndarray, r: int, i: int, w: float, w0: float, dw: float) -> float:
    """WEPL of ray ``i`` (0, 1) of pair ``r`` at depth w (linear, clamped)."""
    x = min(max((w - w0) / dw, 0.0), table.shape[2] - 1.0)
    k = min(int(x), table.shape[2] - 2)
    f = x - k
    return (1.0 - f) * table[r, i, k] + f * table[r, i, k + 1]


@numba.njit(cache=True, inline="always")
def _reach2(radius: float) -> float:
    """Square of a spot's largest cut-off radius in the isocentre plane, with a margin
    for rounding (the radius bounds n σ₁ / magnification over all the beam's voxels)."""
    return radius * radius * (1.0 + 1e-9) + 1e-12


@numba.njit(cache=True, inline="always")
def _beyond(du: float, dv: float, reach2: float) -> bool:
    """Whether a voxel at isocentre-plane offset (du, dv) lies beyond a spot's largest
    cut-off radius: then no depth, σ or magnification can bring it inside, and the kernels
    skip its (costlier) WEPL span and ray lookups. Exact: the same entries as without."""
    return du * du + dv * dv > reach2


@numba.njit(cache=True, inline="always")
def _geometry(
    j: int,
    e: int,
    u: float,
    v: float,
    wepl: float,
    mcs2: float,
    split_var: float,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    mag_u: np.ndarray,
    mag_v: np.ndarray,
    vox_w: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    n_depth: int,
    nsig2: float,
) -> tuple[bool, float, float, float, int, float]:
    """A (sub-)beam of energy e on the axis (u, v) at voxel j, whose WEPL along it is
    ``wepl`` and MCS variance there ``mcs2``: (inside the cut-off, r², σ_air², σ₁², depth
    bin k, fraction f)."""
    if wepl < 0.0 or wepl >= max_depth[e]:
        return False, 0.0, 0.0, 1.0, 0, 0.0
    x = (vox_u[j] - u) * mag_u[j]
    y = (vox_v[j] - v) * mag_v[j]
    r2 = x * x + y * y
    depth = wepl / step[e]
    k = min(int(depth), n_depth - 2)
    f = depth - k
    w = vox_w[j]
    air = air_a[e] + w * (air_b[e] + w * air_c[e]) - split_var
    s1 = air + mcs2
    return r2 <= nsig2 * s1, r2, air, s1, k, f


@numba.njit(cache=True, inline="always")
def _within_disc(
    j: int,
    e: int,
    u: float,
    v: float,
    mcs2: float,
    split_var: float,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    mag_u: np.ndarray,
    mag_v: np.ndarray,
    vox_w: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    nsig2: float,
) -> bool:
    """Whether voxel j lies within the cut-off disc of a (sub-)beam of energy e on the axis
    (u, v) whose MCS variance there is ``mcs2``: the lateral half of :func:`_geometry`'s
    test, which does not depend on the WEPL (sub-beams skip their paths' WEPL beyond it)."""
    x = (vox_u[j] - u) * mag_u[j]
    y = (vox_v[j] - v) * mag_v[j]
    w = vox_w[j]
    s1 = air_a[e] + w * (air_b[e] + w * air_c[e]) - split_var + mcs2
    return x * x + y * y <= nsig2 * s1


@numba.njit(cache=True, inline="always")
def _lateral(
    r2: float,
    s1: float,
    h: float,
    e: int,
    k: int,
    f: float,
    halo_sigma2: np.ndarray,
    sigma_mcs2: np.ndarray,
    nsig2: float,
    core: float = 1.0,
    halo: float = 1.0,
) -> float:
    """Core and halo Gaussians at r² (mm⁻²) with halo weight h, both cut at r_c = n σ₁
    and renormalised over that disc (the core truncated, the halo lowered to zero
    there); the halo is wider than the core by its excess over the primaries' MCS
    variance in water. ``core`` and ``halo`` scale the two parts (1, 1: the whole)."""
    g = core * (1.0 - h) * _truncated_gaussian(r2, s1, 0.5 * nsig2) if core != 0.0 else 0.0
    if h > 0.0 and halo != 0.0:
        s2 = s1 + max(_lookup(halo_sigma2, e, k, f) - _lookup(sigma_mcs2, e, k, f), 0.0)
        g += halo * h * _cut_gaussian(r2, s2, 0.5 * nsig2 * s1 / s2)
    return g


@numba.njit(cache=True, inline="always")
def _halo_share(
    idd_mean: float,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    e: int,
    span: float,
    k_lo: int,
    f_lo: float,
    k_hi: int,
    f_hi: float,
    k: int,
    f: float,
) -> float:
    """The halo's share of the voxel's dose, ⟨h·IDD⟩ / ⟨IDD⟩ over its WEPL span (the
    halo weight of carbon jumps from ~0.1 to ~1 across the Bragg peak: its value at
    the voxel's centre would misplace the tail's dose in a voxel that straddles it)."""
    if idd_mean <= 0.0:
        return 0.0
    share = _average(halo_idd, halo_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f) / idd_mean
    return min(max(share, 0.0), 1.0)


@numba.njit(cache=True, inline="always")
def _span(
    wepl: float, up: float, down: float, step: float, max_depth: float
) -> tuple[bool, float, float, float]:
    """A voxel whose centre lies at ``wepl`` and whose faces ``up`` and ``down`` mm of
    WEPL before and after it: (whether its span meets the table, centre WEPL clamped
    into the table, span ends in depth bins)."""
    lo = wepl - up
    hi = wepl + down
    if hi < 0.0 or lo >= max_depth:
        return False, 0.0, 0.0, 0.0
    centre = min(max(wepl, 0.0), max_depth * (1.0 - 1e-9))
    return True, centre, lo / step, hi / step


@numba.njit(cache=True, inline="always")
def _bin(t: float, n: int) -> tuple[int, float]:
    """Depth bin k and fraction f of t (in bins) clamped to a table of n depths; at the
    ends the table's integral below is 0 (t ≤ 0) and its whole (t ≥ n − 1)."""
    t = min(max(t, 0.0), n - 1.0)
    k = min(int(t), n - 2)
    return k, t - k


@numba.njit(cache=True, inline="always")
def _integral(table: np.ndarray, cum: np.ndarray, row: int, k: int, f: float) -> float:
    """∫₀ of the linear interpolant of ``table[row]`` up to bin k + f, from its
    cumulative table."""
    a = table[row, k]
    return cum[row, k] + f * (a + 0.5 * f * (table[row, k + 1] - a))


@numba.njit(cache=True, inline="always")
def _average(
    table: np.ndarray,
    cum: np.ndarray,
    row: int,
    span: float,
    k_lo: int,
    f_lo: float,
    k_hi: int,
    f_hi: float,
    k: int,
    f: float,
) -> float:
    """Mean of ``table[row]``'s linear interpolant over a voxel's span of ``span`` bins
    (ends at bins k_lo + f_lo and k_hi + f_hi, clamped by :func:`_bin`); its value at
    k + f when the span is shorter than 10⁻⁶ bin (a voxel in air)."""
    if span < 1e-6:
        return (1.0 - f) * table[row, k] + f * table[row, k + 1]
    return (_integral(table, cum, row, k_hi, f_hi) - _integral(table, cum, row, k_lo, f_lo)) / span


@numba.njit(cache=True, inline="always")
def _deposit(
    weight: float,
    r2: float,
    air: float,
    s1: float,
    e: int,
    k: int,
    f: float,
    lo: float,
    hi: float,
    t: int,
    idd: np.ndarray,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    halo_sigma2: np.ndarray,
    sigma_mcs2: np.ndarray,
    idd_cum: np.ndarray,
    let_dose: np.ndarray,
    let_cum: np.ndarray,
    alpha_dose: np.ndarray,
    alpha_cum: np.ndarray,
    beta_dose: np.ndarray,
    beta_cum: np.ndarray,
    nsig2: float,
    with_let: bool,
    with_bio: bool,
    core: float = 1.0,
) -> tuple[float, float, float, float]:
    """Voxel-averaged dose, LET×dose, α×dose and √β×dose (per particle) of a (sub-)beam
    of ``weight`` whose voxel spans [lo, hi] depth bins (``core`` scales its core, not its
    halo: fine sampling's edge effect)."""
    n = idd.shape[1]
    k_lo, f_lo = _bin(lo, n)
    k_hi, f_hi = _bin(hi, n)
    span = hi - lo
    idd_mean = _average(idd, idd_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    h = _halo_share(idd_mean, halo_idd, halo_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    g = weight * _lateral(r2, s1, h, e, k, f, halo_sigma2, sigma_mcs2, nsig2, core)
    d = g * idd_mean
    let_value = 0.0
    if with_let:
        let_value = g * _average(let_dose, let_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    alpha_value = sqrt_beta_value = 0.0
    if with_bio:
        row = t * idd.shape[0] + e
        alpha_value = g * _average(alpha_dose, alpha_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f)
        sqrt_beta_value = g * _average(beta_dose, beta_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f)
    return d, let_value, alpha_value, sqrt_beta_value


# The kernels unpack their tuples once, before the parallel loop, and pass plain arrays
# to the inline helpers: numba then treats every array as loop-invariant (unpacking
# inside the loop made them ~10x slower). Plain pencil beams and fine sampling have
# separate kernels because a run-time branch between the voxel's own WEPL and a
# sub-beam's in the innermost loop halves the speed of the plain case.


@numba.njit(cache=True, parallel=True)
def count_entries(spots, voxels, cells, rays, model, average, n_sigma):
    """Number of voxels each spot reaches (r ≤ n σ₁, WEPL span within the table)."""
    spot_u, spot_v, spot_e, spot_radius = spots
    _, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, _ = voxels
    cell_start, cell_origin, cell_mm, n_cells = cells
    ray_sigma2, _, w0, dw, _ = rays
    step, max_depth, air_a, air_b, air_c, idd = model[:6]
    wepl_up, wepl_down = average[0], average[1]
    nsig2 = n_sigma * n_sigma
    n_depth = idd.shape[1]
    counts = np.zeros(spot_u.size, dtype=np.int64)
    for s in numba.prange(spot_u.size):
        e, u, v = spot_e[s], spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(u, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(v, spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        count = 0
        reach2 = _reach2(spot_radius[s])
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - u, vox_v[j] - v, reach2):
                        continue
                    reached, centre, _, _ = _span(
                        vox_wepl[j], wepl_up[j], wepl_down[j], step[e], max_depth[e]
                    )
                    if not reached:
                        continue
                    mcs2 = _along_ray(ray_sigma2, s, vox_w[j], w0, dw)
                    if _geometry(
                        j, e, u, v, centre, mcs2, 0.0, vox_u, vox_v, mag_u, mag_v,
                        vox_w, step, max_depth, air_a, air_b, air_c, n_depth, nsig2,
                    )[0]:  # fmt: skip
                        count += 1
        counts[s] = count
    return counts


@numba.njit(cache=True, parallel=True)
def fill_entries(
    indptr,
    spots,
    voxels,
    cells,
    rays,
    model,
    average,
    n_sigma,
    with_let,
    with_bio,
    out_index,
    out_dose,
    out_let,
    out_alpha,
    out_sqrt_beta,
):
    """Write row indices and values (voxel-averaged dose, LET×dose, α×dose, √β×dose per
    particle) of every spot's column from ``indptr[s]`` on (same visiting order and
    criteria as :func:`count_entries`)."""
    spot_u, spot_v, spot_e, spot_radius = spots
    vox_index, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, vox_tissue = voxels
    cell_start, cell_origin, cell_mm, n_cells = cells
    ray_sigma2, _, w0, dw, _ = rays
    step, max_depth, air_a, air_b, air_c = model[:5]
    idd, sigma_mcs2, _, halo_sigma2 = model[5:9]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum, halo_idd, halo_cum = average[5:]
    nsig2 = n_sigma * n_sigma
    n_depth = idd.shape[1]
    for s in numba.prange(spot_u.size):
        e, u, v = spot_e[s], spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(u, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(v, spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        p = indptr[s]
        reach2 = _reach2(spot_radius[s])
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - u, vox_v[j] - v, reach2):
                        continue
                    reached, centre, lo, hi = _span(
                        vox_wepl[j], wepl_up[j], wepl_down[j], step[e], max_depth[e]
                    )
                    if not reached:
                        continue
                    mcs2 = _along_ray(ray_sigma2, s, vox_w[j], w0, dw)
                    inside, r2, air, s1, k, f = _geometry(
                        j, e, u, v, centre, mcs2, 0.0, vox_u, vox_v, mag_u, mag_v,
                        vox_w, step, max_depth, air_a, air_b, air_c, n_depth, nsig2,
                    )  # fmt: skip
                    if not inside:
                        continue
                    values = _deposit(
                        1.0, r2, air, s1, e, k, f, lo, hi, vox_tissue[j], idd, halo_idd,
                        halo_cum, halo_sigma2, sigma_mcs2, idd_cum, let_dose, let_cum, alpha_dose,
                        alpha_cum, beta_dose, beta_cum, nsig2, with_let, with_bio,
                    )  # fmt: skip
                    _store(
                        p, vox_index[j], values, with_let, with_bio, out_index, out_dose,
                        out_let, out_alpha, out_sqrt_beta,
                    )  # fmt: skip
                    p += 1


@numba.njit(cache=True, inline="always")
def _store(
    p, index, values, with_let, with_bio, out_index, out_dose, out_let, out_alpha, out_sqrt_beta
):
    out_index[p] = index
    out_dose[p] = values[0]
    if with_let:
        out_let[p] = values[1]
    if with_bio:
        out_alpha[p] = values[2]
        out_sqrt_beta[p] = values[3]


@numba.njit(cache=True, inline="always")
def _parallel_share(
    e: int,
    w: float,
    mcs2: float,
    split_var: float,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
) -> float:
    """The share a of a sub-beam's dose at depth w taken at the voxel's own WEPL (lateral
    range mixing, see the module's docstring): a = (σ²_air − split) / (σ²_air − split +
    σ²_MCS), the part of its lateral variance whose protons travel parallel to its axis."""
    air = air_a[e] + w * (air_b[e] + w * air_c[e]) - split_var
    if air <= 0.0:
        return 0.0
    return air / (air + max(mcs2, 0.0))


@numba.njit(cache=True, inline="always")
def _lattice_rise(
    table: np.ndarray,
    u: float,
    v: float,
    lo: float,
    hi: float,
    start: np.ndarray,
    step: np.ndarray,
) -> float:
    """WEPL gained between depths ``lo`` and ``hi`` along the lattice ray nearest the
    isocentre-plane position (u, v) (linear in depth, clamped to the lattice): the
    lattice's rays run through the voxel centres one voxel apart, so a path beside an
    interface reads the side it is on."""
    nu, nv, nw = table.shape
    i = int(min(max((u - start[0]) / step[0] + 0.5, 0.0), nu - 0.5))  # nearest, clamped
    k = int(min(max((v - start[1]) / step[1] + 0.5, 0.0), nv - 0.5))
    total = 0.0
    for n in range(2):
        fw = min(max(((hi if n == 0 else lo) - start[2]) / step[2], 0.0), nw - 1.0)
        k0 = min(int(fw), nw - 2) if nw > 1 else 0
        c = fw - k0
        value = (1.0 - c) * table[i, k, k0] + c * table[i, k, min(k0 + 1, nw - 1)]
        total += value if n == 0 else -value
    return total


#: Where a sub-beam's scattered protons' mean path is sampled, as fractions of the way
#: from the sub-beam's entry into the patient to the voxel: up to the first it follows the
#: sub-beam's ray pair (exact at interfaces; the mean path lies within 0.2 of the way to
#: the voxel there, 1.5 t² − 0.5 t³ in a uniform medium), then one straight segment
#: between each pair of fractions at the mean path's lateral position at its middle.
#: The paths spread around their mean (:func:`_mean_path`), so a denser sampling of one
#: mean path is not the better model: ten segments from 0.1 on, without the spread, gave
#: the spot on a lung–tumour interface γ 2 %/2 mm 96.0 % against MC where these
#: fractions with the spread give 98.0 % (``bench/lung_edge.py``; plain 93.2 %).
_PATH_FRACTIONS = (0.4, 0.65, 0.85, 1.0)


@numba.njit(cache=True, inline="always")
def _mean_path(
    r: int,
    w: float,
    u: float,
    v: float,
    to_u: float,
    to_v: float,
    mcs2: float,
    ray_sigma2: np.ndarray,
    path_m1: np.ndarray,
    w0: float,
    dw: float,
    enter: float,
    lattice: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> tuple[float, float, float]:
    """The WEPL of the paths of sub-beam ``r``'s scattered protons that reach the voxel at
    (``to_u``, ``to_v``, depth ``w``) from its axis (``u``, ``v``): (depth b up to which
    they follow the sub-beam's ray, WEPL each of two paths adds beyond b).

    Given its lateral offset x at w, a proton that entered on the axis was at depth
    w' < w at x · g(w'), g = C(w', w) / σ²(w), the Fermi–Eyges covariance of its positions
    C(w', w) = σ²(w') + (w − w') M₁(w') over its variance at w (the most likely path of
    proton CT: Schulte et al., Med. Phys. 35 (2008) 4849; Williams, Phys. Med. Biol. 49
    (2004) 2899), from the moments along the sub-beam's own ray (:mod:`._ray_tables`):
    g grows from 0 at entry to 1 at the voxel, late where the scattering is late. Around
    that mean the paths spread with the conditional variance σ²(w') − C(w', w)² / σ²(w)
    per axis (0 at the voxel); two paths at ± its square root in u and in v (a two-point
    rule with that mean and variance on each axis) carry half each, the first continuing
    the first ray of the sub-beam's pair, the second the other. Beyond b each path reads
    the WEPL of the lattice ray nearest it, segment by segment (isocentre-plane offsets;
    the magnification, within a few % of 1, is left out)."""
    if mcs2 <= 0.0 or w <= enter:
        return w, 0.0, 0.0
    length = w - enter
    lo = enter + _PATH_FRACTIONS[0] * length
    bend = lo
    plus = minus = 0.0
    for n in range(1, len(_PATH_FRACTIONS)):
        hi = enter + _PATH_FRACTIONS[n] * length
        mid = 0.5 * (lo + hi)
        var = _along_ray(ray_sigma2, r, mid, w0, dw)
        cov = var + (w - mid) * _along_ray(path_m1, r, mid, w0, dw)
        g = min(max(cov / mcs2, 0.0), 1.0)
        spread = math.sqrt(max(var - cov * cov / mcs2, 0.0))
        pu = u + g * (to_u - u)
        pv = v + g * (to_v - v)
        plus += _lattice_rise(
            lattice, pu + spread, pv + spread, lo, hi, lattice_start, lattice_step
        )
        minus += _lattice_rise(
            lattice, pu - spread, pv - spread, lo, hi, lattice_start, lattice_step
        )
        lo = hi
    return bend, max(plus, 0.0), max(minus, 0.0)


#: Where the parallel share's paths (:func:`_parallel_paths`) are sampled, as fractions of
#: the way from the entry into the patient to the voxel: one straight segment between each
#: pair, at the paths' lateral offset at its middle (equal quarters; not fitted).
_OWN_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The medians of the four quarters of a unit Gaussian, Φ⁻¹(1/8, 3/8, 5/8, 7/8): where the
#: parallel share's paths are sampled (:func:`_parallel_paths`), a quarter each.
_QUARTER_MEDIANS = (1.1503493803760079, 0.3186393639643752, -0.3186393639643752,
                    -1.1503493803760079)  # fmt: skip


@numba.njit(cache=True, inline="always")
def _nearest(x: float, start: float, step: float, n: int) -> int:
    """Index of the lattice ray nearest the isocentre-plane coordinate x (clamped)."""
    return int(min(max((x - start) / step + 0.5, 0.0), n - 0.5))


@numba.njit(cache=True, inline="always")
def _ray_value(
    table: np.ndarray, i: int, k: int, w: float, start: np.ndarray, step: np.ndarray
) -> float:
    """WEPL of lattice ray (i, k) at depth w (linear in depth, clamped)."""
    nw = table.shape[2]
    fw = min(max((w - start[2]) / step[2], 0.0), nw - 1.0)
    k0 = min(int(fw), nw - 2) if nw > 1 else 0
    c = fw - k0
    return (1.0 - c) * table[i, k, k0] + c * table[i, k, min(k0 + 1, nw - 1)]


@numba.njit(cache=True, inline="always")
def _stays_on(
    i: int,
    k: int,
    u: float,
    v: float,
    reach: float,
    start: np.ndarray,
    step: np.ndarray,
    nu: int,
    nv: int,
) -> bool:
    """Whether every point within ``reach`` of (u, v) in u and in v has lattice ray (i, k)
    as its nearest: then every path of :func:`_parallel_paths` reads the voxel's own WEPL."""
    return (
        _nearest(u - reach, start[0], step[0], nu) == i
        and _nearest(u + reach, start[0], step[0], nu) == i
        and _nearest(v - reach, start[1], step[1], nv) == k
        and _nearest(v + reach, start[1], step[1], nv) == k
    )


@numba.njit(cache=True, inline="always")
def _backward_spread(
    n: int,
    r: int,
    w: float,
    enter: float,
    length: float,
    s_w: float,
    ray_sigma2: np.ndarray,
    path_m1: np.ndarray,
    w0: float,
    dw: float,
) -> float:
    """σ_b at the middle of the parallel share's path segment n (:func:`_parallel_paths`)."""
    mid = enter + 0.5 * (_OWN_FRACTIONS[n] + _OWN_FRACTIONS[n + 1]) * length
    var = s_w - _along_ray(ray_sigma2, r, mid, w0, dw)
    var -= 2.0 * (w - mid) * _along_ray(path_m1, r, mid, w0, dw)
    return math.sqrt(max(var, 0.0))


@numba.njit(cache=True, inline="always")
def _path_rise(
    z: float,
    spreads: tuple[float, float, float, float],
    w: float,
    enter: float,
    length: float,
    to_u: float,
    to_v: float,
    lattice: np.ndarray,
    start: np.ndarray,
    step: np.ndarray,
) -> float:
    """WEPL gained from the lattice's start to depth w along the path at z σ_b(segment)
    from (to_u, to_v) in u and v, each segment on its nearest lattice ray (a run of
    segments on one ray read at its ends only)."""
    nu, nv, _ = lattice.shape
    total = 0.0
    run_i = _nearest(to_u + z * spreads[0], start[0], step[0], nu)
    run_k = _nearest(to_v + z * spreads[0], start[1], step[1], nv)
    run_lo = start[2]
    for n in range(1, len(_OWN_FRACTIONS) - 1):
        i = _nearest(to_u + z * spreads[n], start[0], step[0], nu)
        k = _nearest(to_v + z * spreads[n], start[1], step[1], nv)
        if i != run_i or k != run_k:  # the path moves to another ray here
            lo = enter + _OWN_FRACTIONS[n] * length
            total += _ray_value(lattice, run_i, run_k, lo, start, step)
            total -= _ray_value(lattice, run_i, run_k, run_lo, start, step)
            run_i, run_k, run_lo = i, k, lo
    total += _ray_value(lattice, run_i, run_k, w, start, step)
    return total - _ray_value(lattice, run_i, run_k, run_lo, start, step)


@numba.njit(cache=True, inline="always")
def _parallel_paths(
    r: int,
    w: float,
    to_u: float,
    to_v: float,
    own_wepl: float,
    ray_sigma2: np.ndarray,
    path_m1: np.ndarray,
    w0: float,
    dw: float,
    enter: float,
    lattice: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> tuple[float, float, float, float]:
    """The WEPL of four paths of a sub-beam's parallel share (the protons that entered off
    its axis, lateral range mixing) that reach the voxel at (``to_u``, ``to_v``, depth
    ``w``), whose own WEPL is ``own_wepl``.

    Their entry is spread over the spot's width in air, wide against their scattering, so
    given where a proton arrives its path is centred on the voxel's own ray (the limit of
    the Fermi–Eyges conditional mean for a broad entry; Krah et al., Phys. Med. Biol. 63
    (2018) 135013, the most likely path with an uncertain entry position) and spreads
    around it with the variance σ_b²(w') = σ²(w) − σ²(w') − 2 (w − w') M₁(w') of
    x(w) − x(w') (the scattering after w' and the angle gathered before it, along ray
    ``r``'s moments): 0 at the voxel, σ²(w) at the entry. What a path's WEPL depends on is
    which side of an interface it runs, so the spread is sampled by the medians of its
    quarters, z σ_b with z = ±0.319, ±1.150 (Φ(z) = 1/8, 3/8, 5/8, 7/8; in u and v
    together), a quarter each: the share of the paths beyond an interface at any distance
    is then the Gaussian's within 1/8 (two points at ± σ_b: within 0.34; three
    Gauss–Hermite points: within 0.33, 1/6 where it is ½ for a spread much wider than the
    distance). Each path reads the WEPL of the lattice ray nearest it segment by segment;
    where it stays on the voxel's own ray it equals ``own_wepl``. Without them (the
    voxel's own WEPL for the whole parallel share) the lung phantom's 180° beam put +7.5 %
    more than MC into the lung 5–10 mm beyond the tumour's distal half (plain +0.4 %)."""
    length = w - enter
    s_w = _along_ray(ray_sigma2, r, w, w0, dw)
    if length <= 0.0 or s_w <= 0.0:
        return own_wepl, own_wepl, own_wepl, own_wepl
    nu, nv, _ = lattice.shape
    own_i = _nearest(to_u, lattice_start[0], lattice_step[0], nu)
    own_k = _nearest(to_v, lattice_start[1], lattice_step[1], nv)
    if _stays_on(own_i, own_k, to_u, to_v, _QUARTER_MEDIANS[0] * math.sqrt(s_w), lattice_start,
                 lattice_step, nu, nv):  # fmt: skip
        return own_wepl, own_wepl, own_wepl, own_wepl  # σ_b ≤ σ(w) all the way
    spreads = (
        _backward_spread(0, r, w, enter, length, s_w, ray_sigma2, path_m1, w0, dw),
        _backward_spread(1, r, w, enter, length, s_w, ray_sigma2, path_m1, w0, dw),
        _backward_spread(2, r, w, enter, length, s_w, ray_sigma2, path_m1, w0, dw),
        _backward_spread(3, r, w, enter, length, s_w, ray_sigma2, path_m1, w0, dw),
    )
    reach = _QUARTER_MEDIANS[0] * max(max(spreads[0], spreads[1]), max(spreads[2], spreads[3]))
    if _stays_on(own_i, own_k, to_u, to_v, reach, lattice_start, lattice_step, nu, nv):
        return own_wepl, own_wepl, own_wepl, own_wepl
    base = own_wepl - (
        _ray_value(lattice, own_i, own_k, w, lattice_start, lattice_step)
        - _ray_value(lattice, own_i, own_k, lattice_start[2], lattice_start, lattice_step)
    )
    return (
        base + _path_rise(_QUARTER_MEDIANS[0], spreads, w, enter, length, to_u, to_v, lattice,
                          lattice_start, lattice_step),
        base + _path_rise(_QUARTER_MEDIANS[1], spreads, w, enter, length, to_u, to_v, lattice,
                          lattice_start, lattice_step),
        base + _path_rise(_QUARTER_MEDIANS[2], spreads, w, enter, length, to_u, to_v, lattice,
                          lattice_start, lattice_step),
        base + _path_rise(_QUARTER_MEDIANS[3], spreads, w, enter, length, to_u, to_v, lattice,
                          lattice_start, lattice_step),
    )  # fmt: skip


@numba.njit(cache=True, inline="always")
def _parallel_means(
    wepl_a: float,
    wepl_b: float,
    wepl_c: float,
    wepl_d: float,
    up: float,
    down: float,
    e: int,
    step: np.ndarray,
    max_depth: np.ndarray,
    t: int,
    idd: np.ndarray,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    idd_cum: np.ndarray,
    let_dose: np.ndarray,
    let_cum: np.ndarray,
    alpha_dose: np.ndarray,
    alpha_cum: np.ndarray,
    beta_dose: np.ndarray,
    beta_cum: np.ndarray,
    with_let: bool,
    with_bio: bool,
) -> tuple[bool, float, float, float, float, float, float]:
    """:func:`_depth_means` of the parallel share, a quarter along each of its four paths
    (:func:`_parallel_paths`; the voxel's WEPL span shifted to each path's WEPL): (whether
    any meets the table, the centre WEPL of the first that does, mean IDD, halo share
    ⟨h·IDD⟩ / ⟨IDD⟩, means of IDD × LET_d, × α, × √β)."""
    n = idd.shape[1]
    dose = halo = let_mean = alpha_mean = beta_mean = 0.0
    meets_any = False
    first = 0.0
    same = wepl_a == wepl_b and wepl_a == wepl_c and wepl_a == wepl_d
    for i in range(1 if same else 4):
        wepl = wepl_a if i == 0 else (wepl_b if i == 1 else (wepl_c if i == 2 else wepl_d))
        weight = 1.0 if same else 0.25
        meets, centre, lo, hi = _span(wepl, up, down, step[e], max_depth[e])
        if not meets:
            continue
        if not meets_any:
            first = centre
        meets_any = True
        k, f = _bin(centre / step[e], n)
        d, h, lt, al, be = _depth_means(
            e, k, f, lo, hi, t, idd, halo_idd, halo_cum, idd_cum, let_dose, let_cum,
            alpha_dose, alpha_cum, beta_dose, beta_cum, with_let, with_bio,
        )  # fmt: skip
        dose += weight * d
        halo += weight * d * h
        let_mean += weight * lt
        alpha_mean += weight * al
        beta_mean += weight * be
    share = halo / dose if dose > 0.0 else 0.0
    return meets_any, first, dose, share, let_mean, alpha_mean, beta_mean


@numba.njit(cache=True, inline="always")
def _depth_means(
    e: int,
    k: int,
    f: float,
    lo: float,
    hi: float,
    t: int,
    idd: np.ndarray,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    idd_cum: np.ndarray,
    let_dose: np.ndarray,
    let_cum: np.ndarray,
    alpha_dose: np.ndarray,
    alpha_cum: np.ndarray,
    beta_dose: np.ndarray,
    beta_cum: np.ndarray,
    with_let: bool,
    with_bio: bool,
) -> tuple[float, float, float, float, float]:
    """The depth part of :func:`_deposit` over a voxel's span [lo, hi] depth bins: mean
    IDD, halo share, and the means of IDD × LET_d, IDD × α and IDD × √β (0 when not
    asked for). Every sub-beam's share at the voxel's own WEPL multiplies these by its
    own lateral factor."""
    n = idd.shape[1]
    k_lo, f_lo = _bin(lo, n)
    k_hi, f_hi = _bin(hi, n)
    span = hi - lo
    idd_mean = _average(idd, idd_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    h = _halo_share(idd_mean, halo_idd, halo_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    let_mean = alpha_mean = beta_mean = 0.0
    if with_let:
        let_mean = _average(let_dose, let_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    if with_bio:
        row = t * idd.shape[0] + e
        alpha_mean = _average(alpha_dose, alpha_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f)
        beta_mean = _average(beta_dose, beta_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f)
    return idd_mean, h, let_mean, alpha_mean, beta_mean


@numba.njit(cache=True, parallel=True)
def count_entries_fine(spots, voxels, cells, split, rays, model, average, n_sigma):
    """:func:`count_entries` with fine sampling: a voxel counts when any sub-beam
    reaches it along the voxel's own ray (the parallel share of its spread) or along its
    scattered protons' mean path from either ray of its pair (the voxel's WEPL span
    shifted to that path's WEPL)."""
    spot_u, spot_v, spot_e, spot_radius = spots
    _, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, _ = voxels
    cell_start, cell_origin, cell_mm, n_cells = cells
    du, dv, _, split_var, path_m1, path_enter, lattice, lattice_start, lattice_step = split[:9]
    ray_sigma2, ray_wepl, w0, dw, per_spot = rays
    step, max_depth, air_a, air_b, air_c, idd = model[:6]
    wepl_up, wepl_down = average[0], average[1]
    nsig2 = n_sigma * n_sigma
    n_depth = idd.shape[1]
    counts = np.zeros(spot_u.size, dtype=np.int64)
    for s in numba.prange(spot_u.size):
        e = spot_e[s]
        mid_ray = s * per_spot + du.shape[1] // 2
        iu0, iu1 = _cell_range(spot_u[s], spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(spot_v[s], spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        count = 0
        reach2 = _reach2(spot_radius[s])
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - spot_u[s], vox_v[j] - spot_v[s], reach2):
                        continue
                    own = (False, 0.0)
                    own_done = False
                    reached = False
                    for m in range(du.shape[1]):
                        r = s * per_spot + m
                        u, v = spot_u[s] + du[e, m], spot_v[s] + dv[e, m]
                        mcs2 = _along_ray(ray_sigma2, r, vox_w[j], w0, dw)
                        if not _within_disc(
                            j, e, u, v, mcs2, split_var[e], vox_u, vox_v, mag_u, mag_v, vox_w,
                            air_a, air_b, air_c, nsig2,
                        ):  # fmt: skip
                            continue
                        if not own_done:  # the parallel share's paths, once per voxel
                            own_done = True
                            own_a, own_b, own_c, own_d = _parallel_paths(
                                mid_ray, vox_w[j], vox_u[j], vox_v[j], vox_wepl[j], ray_sigma2,
                                path_m1, w0, dw, path_enter[mid_ray], lattice, lattice_start,
                                lattice_step,
                            )  # fmt: skip
                            for q in range(4):
                                wq = (
                                    own_a
                                    if q == 0
                                    else own_b
                                    if q == 1
                                    else own_c
                                    if q == 2
                                    else own_d
                                )
                                span_q = _span(wq, wepl_up[j], wepl_down[j], step[e], max_depth[e])
                                if span_q[0]:
                                    own = (True, span_q[1])
                                    break
                        bend = plus = minus = 0.0
                        for i in (2, 0, 1):
                            if i < 2:
                                if i == 0:
                                    bend, plus, minus = _mean_path(
                                        r, vox_w[j], u, v, vox_u[j], vox_v[j], mcs2, ray_sigma2,
                                        path_m1, w0, dw, path_enter[r], lattice, lattice_start,
                                        lattice_step,
                                    )  # fmt: skip
                                extra = plus if i == 0 else minus
                                wepl = _pair_wepl(ray_wepl, r, i, bend, w0, dw) + extra
                                meets, centre, _, _ = _span(
                                    wepl, wepl_up[j], wepl_down[j], step[e], max_depth[e]
                                )
                            else:
                                meets, centre = own[0], own[1]
                            if meets and _geometry(
                                j, e, u, v, centre, mcs2, split_var[e], vox_u, vox_v, mag_u,
                                mag_v, vox_w, step, max_depth, air_a, air_b, air_c, n_depth,
                                nsig2,
                            )[0]:  # fmt: skip
                                reached = True
                                break
                        if reached:
                            break
                    if reached:
                        count += 1
        counts[s] = count
    return counts


@numba.njit(cache=True, parallel=True)
def fill_entries_fine(
    indptr,
    spots,
    voxels,
    cells,
    split,
    rays,
    model,
    average,
    n_sigma,
    with_let,
    with_bio,
    out_index,
    out_dose,
    out_let,
    out_alpha,
    out_sqrt_beta,
):
    """:func:`fill_entries` with fine sampling: each stored value is the weighted sum
    over the spot's sub-beams, each with lateral range mixing: the parallel share a of
    its spread (:func:`_parallel_share`) at the voxel's own WEPL span, the rest along
    its scattered protons' mean path to the voxel (:func:`_mean_path`; half from each ray
    of its pair, the voxel's WEPL span shifted to that path's WEPL)."""
    spot_u, spot_v, spot_e, spot_radius = spots
    vox_index, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, vox_tissue = voxels
    cell_start, cell_origin, cell_mm, n_cells = cells
    du, dv, sub_weight, split_var, path_m1, path_enter, lattice, lattice_start = split[:8]
    lattice_step, moment, clear = split[8:]
    ray_sigma2, ray_wepl, w0, dw, per_spot = rays
    step, max_depth, air_a, air_b, air_c = model[:5]
    idd, sigma_mcs2, _, halo_sigma2 = model[5:9]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum, halo_idd, halo_cum = average[5:]
    nsig2 = n_sigma * n_sigma
    n_depth = idd.shape[1]
    mid_m = du.shape[1] // 2
    for s in numba.prange(spot_u.size):
        e = spot_e[s]
        mid_ray = s * per_spot + mid_m
        iu0, iu1 = _cell_range(spot_u[s], spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(spot_v[s], spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        p = indptr[s]
        reach2 = _reach2(spot_radius[s])
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - spot_u[s], vox_v[j] - spot_v[s], reach2):
                        continue
                    reached = False
                    total = (0.0, 0.0, 0.0, 0.0)
                    own_done = own_meets = False
                    own_centre = own_f = 0.0
                    own_k = 0
                    own = (0.0, 0.0, 0.0, 0.0, 0.0)
                    edge = 1.0
                    for m in range(du.shape[1]):
                        r = s * per_spot + m
                        u, v = spot_u[s] + du[e, m], spot_v[s] + dv[e, m]
                        mcs2 = _along_ray(ray_sigma2, r, vox_w[j], w0, dw)
                        if not _within_disc(
                            j, e, u, v, mcs2, split_var[e], vox_u, vox_v, mag_u, mag_v, vox_w,
                            air_a, air_b, air_c, nsig2,
                        ):  # fmt: skip
                            continue
                        if not own_done:  # the parallel share's paths, once per voxel
                            own_done = True
                            own_a, own_b, own_c, own_d = _parallel_paths(
                                mid_ray, vox_w[j], vox_u[j], vox_v[j], vox_wepl[j], ray_sigma2,
                                path_m1, w0, dw, path_enter[mid_ray], lattice, lattice_start,
                                lattice_step,
                            )  # fmt: skip
                            own_meets, own_centre, o_d, o_h, o_l, o_a, o_b = _parallel_means(
                                own_a, own_b, own_c, own_d, wepl_up[j], wepl_down[j], e, step,
                                max_depth, vox_tissue[j], idd, halo_idd, halo_cum, idd_cum,
                                let_dose, let_cum, alpha_dose, alpha_cum, beta_dose, beta_cum,
                                with_let, with_bio,
                            )  # fmt: skip
                            own_k, own_f = _bin(own_centre / step[e], n_depth)
                            own = (o_d, o_h, o_l, o_a, o_b)
                        a = _parallel_share(e, vox_w[j], mcs2, split_var[e], air_a, air_b, air_c)
                        residual = air_a[e] + vox_w[j] * (air_b[e] + vox_w[j] * air_c[e])
                        edge = sub_beam_edge(  # the edge effect on the sub-beam's core
                            vox_u[j], vox_v[j], vox_w[j], mag_u[j], mag_v[j], u, v,
                            residual - split_var[e], mcs2, moment, clear, lattice_start,
                            lattice_step,
                        )  # fmt: skip
                        if own_meets:
                            inside, r2, _, s1, _, _ = _geometry(
                                j, e, u, v, own_centre, mcs2, split_var[e], vox_u, vox_v, mag_u,
                                mag_v, vox_w, step, max_depth, air_a, air_b, air_c, n_depth,
                                nsig2,
                            )  # fmt: skip
                            if inside:
                                reached = True
                                g = a * sub_weight[m] * _lateral(
                                    r2, s1, own[1], e, own_k, own_f, halo_sigma2, sigma_mcs2,
                                    nsig2, edge,
                                )  # fmt: skip
                                total = (
                                    total[0] + g * own[0],
                                    total[1] + g * own[2],
                                    total[2] + g * own[3],
                                    total[3] + g * own[4],
                                )
                        bend, plus, minus = _mean_path(
                            r, vox_w[j], u, v, vox_u[j], vox_v[j], mcs2, ray_sigma2, path_m1,
                            w0, dw, path_enter[r], lattice, lattice_start, lattice_step,
                        )  # fmt: skip
                        for i in range(2):
                            extra = plus if i == 0 else minus
                            wepl = _pair_wepl(ray_wepl, r, i, bend, w0, dw) + extra
                            meets, centre, lo, hi = _span(
                                wepl, wepl_up[j], wepl_down[j], step[e], max_depth[e]
                            )
                            if not meets:
                                continue
                            inside, r2, air, s1, k, f = _geometry(
                                j, e, u, v, centre, mcs2, split_var[e], vox_u, vox_v, mag_u,
                                mag_v, vox_w, step, max_depth, air_a, air_b, air_c, n_depth,
                                nsig2,
                            )  # fmt: skip
                            if not inside:
                                continue
                            reached = True
                            add = _deposit(
                                0.5 * (1.0 - a) * sub_weight[m], r2, air, s1, e, k, f, lo, hi,
                                vox_tissue[j], idd, halo_idd, halo_cum, halo_sigma2, sigma_mcs2,
                                idd_cum, let_dose, let_cum, alpha_dose, alpha_cum, beta_dose,
                                beta_cum, nsig2, with_let, with_bio, edge,
                            )  # fmt: skip
                            total = (
                                total[0] + add[0],
                                total[1] + add[1],
                                total[2] + add[2],
                                total[3] + add[3],
                            )
                    if reached:
                        _store(
                            p, vox_index[j], total, with_let, with_bio, out_index, out_dose,
                            out_let, out_alpha, out_sqrt_beta,
                        )  # fmt: skip
                        p += 1
