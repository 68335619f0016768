"""Lateral range mixing of the plain pencil beam (:mod:`ionbeam.planning._range_mixing`).

Checked: (1) in a medium without lateral WEPL differences nothing changes (the matrix
and the forward dose equal to the unmixed ones to rounding); (2) the mixing width
is the Fermi–Eyges conditional variance V(w') = σ²(w) − σ²(w') − 2 (w − w') M₁(w')
(+ c (w − w')² for spots with angular variance c in air) read at the depth where the
WEPL varies laterally (hand-built tables with one such depth); (3) behind a bone edge
the columns on either side read rays on both sides; (4) the depth part is read at each
node of the cross with its weight; (5) the option is refused with fine sampling or as a
non-boolean.
"""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.machine import cnao_beam_line, cnao_energy_library
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.planning import _range_mixing_kernels as kernels
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose, calc_dose_influence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

BEAM_LINE = cnao_beam_line()


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", cnao_energy_library("proton").energies_mev_u[::8], BEAM_LINE)


@pytest.fixture(scope="module")
def phantoms(bone_block_phantoms):
    """Water, and water with a bone block (1200 HU) over x > 0 from 10 to 40 mm deep."""
    return bone_block_phantoms(2.0, (50.0, 150.0, 40.0))


def _plan(model, weight: float = 1.0) -> Plan:
    energy = float(model.energies_mev_u[np.argmin(np.abs(model.bragg_peak_mm - 100.0))])
    spots = SpotMap([energy] * 3, [-6.0, 0.0, 6.0], [0.0, 0.0, 0.0], [weight] * 3)
    return Plan("proton", (Beam("B", BeamGeometry(sad_mm=BEAM_LINE.sad_mm), spots),),
                Prescription("Target", 2.0))  # fmt: skip


def test_mixing_changes_nothing_in_water(phantoms, model) -> None:
    """Same WEPL on every neighbouring ray ⇒ the same dose. Compared where the water is
    laterally uniform over the cross's longest arm (15 mm): |x| < 10, |z| < 5 mm of the
    50 × 40 mm box (nearer its sides the rays beside run in air: a real heterogeneity),
    within 10⁻⁴ of the maximum: the diverging rays beside run at another obliquity, and
    the lattice, traced 15 mm wider, has its nodes elsewhere (seen: 1.3 × 10⁻⁵)."""
    water, _ = phantoms
    body = water.structures["Body"]
    plan = _plan(model)
    x, _, z = water.grid.axes_mm()
    inner = (np.abs(x) < 10.0)[:, None, None] & (np.abs(z) < 5.0)[None, None, :]
    for forward in (False, True):
        doses = []
        for mixing in (False, True):
            options = DoseEngineOptions(range_mixing=mixing)
            if forward:
                doses.append(calc_dose(water.ct, _plan(model, 1e6), model, structures=[body],
                                       options=options).dose_gy)  # fmt: skip
            else:
                influence = calc_dose_influence(water.ct, plan, model, structures=[body],
                                                options=options)  # fmt: skip
                doses.append(influence.dose_gy(np.ones(3)))
        inside = np.broadcast_to(inner, doses[0].shape)
        assert doses[0][inside].max() > 0.5 * doses[0].max()
        tolerance = 1e-4 * doses[0].max()
        np.testing.assert_allclose(doses[1][inside], doses[0][inside], rtol=0, atol=tolerance)


def test_mixing_width_is_the_conditional_fermi_eyges_variance() -> None:
    """A lattice whose WEPL gain differs laterally at one depth only (a 2 mm thin
    step at w' = 10–12 mm, beside the ray at u > 1 mm): the variance is V(11 mm) of the
    ray's tables (σ² = a w³/3, M₁ = a w²/2: constant scattering power a), i.e.
    σ²(w) − σ²(w') − 2 (w − w') M₁(w') = a [(w³ − w'³)/3 − (w − w') w'²]."""
    a = 1e-3
    step = np.array([1.0, 1.0, 1.0])
    start = np.array([-20.0, -20.0, 0.0])
    w_nodes = start[2] + np.arange(61)
    u_nodes = start[0] + np.arange(41)
    gain = np.ones((41, 41, 60))  # 1 mm of WEPL per mm of depth …
    gain[u_nodes > 1.0, :, 10:12] = 2.0  # … but 2 between 10 and 12 mm beside the ray
    table = np.concatenate([np.zeros((41, 41, 1)), np.cumsum(gain, axis=2)], axis=2)
    sigma2 = (a * w_nodes**3 / 3.0)[None, :]
    m1 = (a * w_nodes**2 / 2.0)[None, :]
    w = 50.0
    variance = kernels.mixing_variance(
        np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([w, w]), np.array([0, 0]),
        np.array([0.0, 4e-4]), sigma2, m1, 0.0, 1.0, table, start, step, 15.0,
    )  # fmt: skip
    wp = 11.0
    expected = a * ((w**3 - wp**3) / 3.0 - (w - wp) * wp**2)
    # the tables are linear between 1 mm nodes: ≤ 0.5 % off the cubic
    assert variance[0] == pytest.approx(expected, rel=5e-3)
    # spots diverging with an angular variance c in air (20 mrad rms): + c (w − w')²
    assert variance[1] - variance[0] == pytest.approx(4e-4 * (w - wp) ** 2, rel=1e-9)
    # nothing varies laterally for a ray far from the step at u < −16 mm: zero
    far = kernels.mixing_variance(
        np.array([-17.0]), np.array([0.0]), np.array([w]), np.array([0]), np.array([4e-4]),
        sigma2, m1, 0.0, 1.0, table, start, step, 1.0,
    )  # fmt: skip
    assert far[0] == 0.0


def test_mixing_spreads_the_wepl_behind_a_bone_edge(phantoms, model) -> None:
    """Behind the bone block's edge (x = 0) the plain pencil beam's distal fall-off jumps
    by the bone's extra WEPL between the columns on either side; with mixing each column
    reads rays on both sides: the first bone column keeps dose beyond its own range from
    the paths that crossed water beside it (at the depth midway between the two columns'
    R50s: < 1 % of its maximum without mixing, ≥ 5 % with: its cross's arm into the water,
    weight 1/6, carries the water column's dose there, ~½ of the maximum), while the
    R50 of the water column stays within 1 mm (5/6 of its paths run in water)."""
    water, bone = phantoms
    body = water.structures["Body"]
    plan = _plan(model, 1e6)
    x, y, _ = water.grid.axes_mm()

    def r50(dose: np.ndarray, column: int) -> float:
        profile = dose[column, :, dose.shape[2] // 2]
        peak = int(np.argmax(profile))
        beyond = np.flatnonzero(profile[peak:] < 0.5 * profile[peak])[0] + peak
        f = (profile[beyond - 1] - 0.5 * profile[peak]) / (profile[beyond - 1] - profile[beyond])
        return float(y[beyond - 1] + f * (y[beyond] - y[beyond - 1]))

    left = int(np.flatnonzero(x <= 0.0)[-1])  # the last water column, the first bone one
    right = left + 1
    plain, mixed = (
        calc_dose(
            bone, plan, model, structures=[body], options=DoseEngineOptions(range_mixing=mixing)
        ).dose_gy
        for mixing in (False, True)
    )
    assert r50(plain, left) - r50(plain, right) > 5.0  # bone (SPR ≈ 1.6) over 30 mm
    midway = 0.5 * (r50(plain, left) + r50(plain, right))
    row = int(np.argmin(np.abs(y - midway)))
    z = plain.shape[2] // 2
    assert plain[right, row, z] < 0.01 * plain[right, :, z].max()
    assert mixed[right, row, z] > 0.05 * mixed[right, :, z].max()
    assert abs(r50(mixed, left) - r50(plain, left)) < 1.0


def test_mixing_is_refused_with_fine_sampling_or_a_non_boolean() -> None:
    with pytest.raises(ConfigError, match="plain pencil beam"):
        DoseEngineOptions(range_mixing=True, fine_sampling=3)
    with pytest.raises(ConfigError, match="true or false"):
        DoseEngineOptions(range_mixing="yes")  # type: ignore[arg-type]


def test_the_cross_reads_the_depth_dose_at_each_node_with_its_weight() -> None:
    """A voxel whose cross reads two WEPLs (three nodes each: half its weight on each) gets
    the mean of the two voxel-averaged IDDs, the halo share weighted by each node's dose,
    and nothing from a node beyond the table's end (its ions stopped upstream)."""
    from ionbeam.planning._dose_kernels import _bin, _depth_means, _span

    n_depth, step = 50, 1.0
    depth = np.arange(n_depth) * step
    idd = (1.0 + 0.02 * depth + np.exp(-0.5 * ((depth - 30.0) / 2.0) ** 2))[None, :]
    halo_weight = np.linspace(0.0, 0.5, n_depth)[None, :]

    def cumulative(table: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(0.5 * (table[0, 1:] + table[0, :-1]))])[None, :]

    halo_idd = idd * halo_weight
    tables = (idd, halo_idd, cumulative(halo_idd), cumulative(idd), idd, cumulative(idd))
    bio = np.zeros((1, n_depth))
    steps, max_depth = np.array([step]), np.array([(n_depth - 1) * step])
    up, down = 0.8, 1.1

    def own(wepl: float) -> tuple[float, float]:
        _, centre, lo, hi = _span(wepl, up, down, step, max_depth[0])
        k, f = _bin(centre / step, n_depth)
        d, h, *_ = _depth_means(0, k, f, lo, hi, 0, *tables, bio, bio, bio, bio, False, False)
        return d, h

    def crossed(nodes: list[float]) -> tuple[float, ...]:
        row = np.array([[*nodes, up, down]])
        return kernels.cross_means(row, 0, 0, steps, max_depth, 0, *tables, bio, bio, bio,
                                   bio, False, False)  # fmt: skip

    a, b = 24.3, 30.2  # before the peak and on it
    (da, ha), (db, hb) = own(a), own(b)
    weights = np.array(kernels.NODE_WEIGHTS)
    on_b = np.arange(weights.size) % 2 == 1  # every other node reads b
    wa, wb = weights[~on_b].sum(), weights[on_b].sum()
    assert 0.0 < wb < 1.0
    dose, share, *_ = crossed([b if q else a for q in on_b])
    assert dose == pytest.approx(wa * da + wb * db, rel=1e-12)
    assert share == pytest.approx((wa * da * ha + wb * db * hb) / (wa * da + wb * db), rel=1e-12)
    assert abs(da - db) > 0.2 * da  # the two reads differ: the test can tell them apart
    dose, _, *_ = crossed([60.0 if q else a for q in on_b])  # those nodes beyond the table
    assert dose == pytest.approx(wa * da, rel=1e-12)


def test_the_spot_map_keeps_every_voxel_within_a_spots_reach() -> None:
    """:func:`_near_spots` (the voxels that get a cross) against brute-force distances:
    every point within the reach of a spot is kept (a miss would leave a voxel a spot
    reaches unmixed), and none beyond the reach plus two cells' diagonals (a quarter of
    the reach each) is."""
    from ionbeam.planning._range_mixing import _near_spots

    rng = np.random.default_rng(11)
    spot_u, spot_v = rng.uniform(-30.0, 30.0, 40), rng.uniform(-20.0, 20.0, 40)
    u, v = rng.uniform(-80.0, 80.0, 20000), rng.uniform(-80.0, 80.0, 20000)
    reach = 14.0
    distance = np.min(np.hypot(u[:, None] - spot_u, v[:, None] - spot_v), axis=1)
    kept = _near_spots(u, v, spot_u, spot_v, reach)
    assert np.all(kept[distance <= reach])
    assert not np.any(kept[distance > reach + 2.0 * np.sqrt(2.0) * 0.25 * reach])
    assert np.any(~kept) and np.any(kept)


def test_the_node_floor_bounds_every_node_of_a_cross() -> None:
    """:func:`.cross_floor` over :func:`node_floor` never exceeds the lattice's WEPL at
    any point within the cross's reach (15 mm) beside the voxel at its depth (a voxel
    whose bound lies beyond every depth table is left unmixed: a node below the bound
    could reach a table)."""
    from ionbeam.planning._range_mixing import MAX_REACH_MM, node_floor
    from ionbeam.planning._raytrace_kernels import lattice_at
    from ionbeam.planning.raytrace import WeplLattice

    rng = np.random.default_rng(3)
    step = np.array([2.0, 2.5, 1.25])
    start = np.array([-40.0, -40.0, 0.0])
    gain = rng.uniform(0.0, 2.0, (41, 33, 80))
    table = np.concatenate([np.zeros((41, 33, 1)), np.cumsum(gain * step[2], axis=2)], axis=2)
    lattice = WeplLattice(table, start, step)
    n = 4000
    u, v, w = rng.uniform(-45.0, 45.0, n), rng.uniform(-45.0, 45.0, n), rng.uniform(0, 100, n)
    bound = kernels.cross_floor(u, v, w, table, start, step, node_floor(lattice))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    radius = MAX_REACH_MM * np.sqrt(rng.uniform(0.0, 1.0, n))
    nodes = lattice_at(table, u + radius * np.cos(angle), v + radius * np.sin(angle), w,
                       start, step)  # fmt: skip
    assert np.all(bound <= nodes + 1e-9)
    assert np.median(nodes - bound) < 0.5 * np.median(nodes)  # a bound, not −∞


def test_the_forward_dose_with_mixing_equals_the_matrix(phantoms, model) -> None:
    """Behind the bone block's edge, the matrix-free dose with mixing (spots visited run
    by run of one energy, each mixed voxel's depth part read once per run) equals the
    matrix's dose with mixing (the layer kernel) within 10⁻⁴ of the maximum: the
    matrix's float32 entries and its halo shares in 1/65535ths (seen: 5 × 10⁻⁶); a depth
    part kept for the wrong energy would be off by percents."""
    water, bone = phantoms
    body = water.structures["Body"]
    model_plan = _plan(model, 1.0)
    energies = [float(e) for e in model.energies_mev_u[[-12, -11, -11, -12, -10]]]
    spots = SpotMap(energies, [-6.0, -3.0, 0.0, 3.0, 6.0], [0.0, 2.0, 0.0, -2.0, 0.0],
                    [1e6, 2e6, 1.5e6, 1e6, 0.5e6])  # fmt: skip
    plan = Plan("proton", (Beam("B", model_plan.beams[0].geometry, spots),),
                Prescription("Target", 2.0))  # fmt: skip
    options = DoseEngineOptions(range_mixing=True)
    forward = calc_dose(bone, plan, model, structures=[body], options=options).dose_gy
    influence = calc_dose_influence(bone, plan, model, structures=[body], options=options)
    matrix = influence.dose_gy(plan.weights)
    assert matrix.max() > 0.0
    np.testing.assert_allclose(forward, matrix, rtol=0, atol=1e-4 * matrix.max())
