"""The planning recipe: a patient and a prescription in, an optimized plan and its doses out.

:func:`plan_patient` chains the stages, each a call into its own module:

1. beams: one per gantry angle, isocentre at the target's centroid
   (:class:`~ionbeam.planning.geometry.BeamGeometry`, the machine's SADs), named
   ``beam_names`` (default ``B<k>_G<gantry>``);
2. spots: :func:`~ionbeam.planning.spot_placement.place_spots` with a physics-only
   beam model of the machine's energy library (every ``energy_stride``-th energy);
   where the target reaches shallower than the lowest energy's Bragg peak (by more
   than one layer step) and the beam's ``range_shifter_wet_mm`` is None, the
   machine's range shifter is inserted (0: never);
3. beam model for the dose: the same, or — for a variable RBE — one with α and √β
   tables (mMKM for ions, a proton RBE model for protons) for the tissues in use,
   built for the energies the spots use only (biology tables are costly);
4. dose influence on a dose grid of ``dose_grid_mm``, with a tissue map: the
   target's tissue in the target, ``normal_tissue`` elsewhere, overrides per structure;
5. optimization of the RBE-weighted dose (or the physical dose, ``rbe_model="none"``)
   under per-structure objectives (default: :mod:`.optimize.templates`), each voxel
   counted by the fraction of it inside the structure (its occupancy), with the
   overlap priority of matRad: IMPT (all fields together) or SFUD (each field alone
   to a uniform share 1/n of every dose level, as CNAO often plans; for an LQ model
   the summed fields are then scaled so that the target's mean meets the
   prescription, since RBE-weighted doses do not add);
6. the machine's per-spot limits (:func:`~ionbeam.planning.optimize.apply_spot_limits`);
7. final doses on the dose grid: physical dose, RBE-weighted dose and LET_d.

Before the dose influence is allocated its memory is estimated (voxels of the
dose grid, then the exact number of stored entries) and a run that would not
fit is refused (:mod:`ionbeam._memory`).

Dose levels of objectives are per fraction (the LQ model is per fraction). The
recipe does no file I/O and no evaluation (DVH metrics belong to
:mod:`ionbeam.evaluation`, which callers apply to the result's doses).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from scipy.optimize import brentq

from ionbeam import __version__
from ionbeam._memory import check_fits, dose_grid_bytes
from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.machine import Machine, cnao_machine, default_ripple_filter
from ionbeam.machine.beam_model import BeamModel, build_beam_model
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.grid import Grid
from ionbeam.patient.patient import Patient
from ionbeam.physics.particles import get_particle
from ionbeam.physics.radiobiology.lq import rbe_weighted_dose
from ionbeam.physics.radiobiology.registry import rbe_models_for
from ionbeam.physics.radiobiology.tissue import TissueParameters, get_tissue
from ionbeam.planning.dose_engine import DoseEngineOptions
from ionbeam.planning.dose_grid import make_dose_grid, masks_from_occupancy, occupancy_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.engines import DOSE_ENGINES, InfluenceFunction, engine_name
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.halo import HaloTerms
from ionbeam.planning.optimize import (
    BiologicalEffect,
    ConstantRBEDose,
    OptimizationResult,
    PhysicalDose,
    Quantity,
    RBEWeightedDose,
    SolverOptions,
    StructureObjectives,
)
from ionbeam.planning.optimize.influence_rows import restrict_influence
from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
from ionbeam.planning.optimize.weights import optimize_impt, optimize_sfud
from ionbeam.planning.plan import Beam, Plan, Prescription
from ionbeam.planning.raytrace import wepl_at_points
from ionbeam.planning.spot_placement import place_spots
from ionbeam.planning.sub_voxels import (
    MAX_BAND_MM,
    SubVoxels,
    band_voxels,
    split_voxels,
    sub_voxel_fractions,
    sub_voxel_influence,
)

if TYPE_CHECKING:
    from ionbeam.planning.robust.options import RobustOptions

__all__ = [
    "DEFAULT_DOSE_GRID_MM",
    "PlanningOptions",
    "PlanningResult",
    "dose_of_plan",
    "plan_patient",
    "planning_options_from_settings",
    "resolve_rbe_model",
    "resolve_ripple_filter",
]

#: Default spot spacing in spot sigmas (in air, at the isocentre, middle energy).
SPOT_SPACING_SIGMAS = 1.5
#: Default dose grid spacing (mm). Doses are voxel averages, so a coarse grid hides
#: nothing from the mean, but the optimizer cannot shape the dose inside a voxel: on
#: 3 mm, the head demo's proton plan gains +8 % in PTV maximum and the water phantom's
#: D95 loses 4 % when recomputed on a finer grid; on 2 mm both hold within 2–3 % (the
#: grid check of ``ionbeam plan`` reports it for every plan).
DEFAULT_DOSE_GRID_MM = 2.0
#: The IMPT optimization holds the full-width halo's correction of its first leg's weights
#: fixed; when that of the final weights differs from it by more than this fraction of
#: the target's mean dose anywhere in the target, it runs once more (see _with_full_halo).
HALO_CHANGE_TOLERANCE = 0.01
_TECHNIQUES = ("impt", "sfud")
_QUANTITIES = ("rbe_weighted_dose", "biological_effect")


@dataclass(frozen=True)
class PlanningOptions:
    """How :func:`plan_patient` plans (see the module docstring).

    ``gantry_deg`` / ``couch_deg``: one entry per beam (couch default 0°);
    ``technique``: ``"impt"`` or ``"sfud"``; ``rbe_model``: ``"none"`` (physical dose),
    ``"constant"`` (``constant_rbe``, protons' default), a proton model
    (``"mcnamara2015"``, ``"wedenberg2013"``, ``"carabe2012"``) or ``"mkm"`` (ions'
    default), None: the particle's default; ``biological_quantity``: what an LQ model
    optimizes, ``"rbe_weighted_dose"`` (matRad's RBExD) or ``"biological_effect"``;
    ``spot_spacing_mm`` (None: 1.5 × the spot σ in air at the library's middle energy,
    rounded to 0.5 mm: 4.5 mm for CNAO protons, 3.5 mm for carbon ions; scattering in
    the patient widens the spots further); ``spot_margin_mm``: spots cover the target grown by this
    margin (None: one spot spacing; as matRad's ``addMargin``, so that the target's
    edges are not on the spots' penumbra); ``dose_grid_mm`` (default 2 mm, see
    ``DEFAULT_DOSE_GRID_MM``); ``energy_stride`` (use
    every n-th library energy, for quick plans); ``target_tissue`` /
    ``normal_tissue`` / ``structure_tissues`` (tissue names or parameters; the latter
    override, in order); ``overlap_priority`` (None: serial organs, target, organs,
    body); ``solver`` and ``method``; ``spot_limits`` (apply the machine's minimum
    particles per spot); ``beam_names`` (one per beam, None or "" for the default);
    ``range_shifter_wet_mm`` (one per beam, mm WET: None lets the planner insert the
    machine's where the target needs it, 0 none); ``fine_sampling`` (the dose
    engine's sub-beams per side: 0 off, 2–9); ``dose_engine``: a name of
    :data:`ionbeam.planning.engines.DOSE_ENGINES` (None: ``fine_sampling`` when sub-beams
    are asked for, else ``pencil_beam``; the ``fine_sampling`` engine without a count
    uses 3 × 3 sub-beams). Angles are degrees in [0, 360).
    ``ripple_filter``: whether the beams use the beam line's ripple filter (None: yes
    for carbon and heavier ions when the line has one, as at CNAO;
    no for protons and helium).
    ``range_margin_fraction``: energy layers also for WEPLs this
    fraction beyond the target's (robust plans: the range error).
    ``oar_supersampling_mm``: the voxels with an objective whose centres lie within this
    distance of the target's surface (organs at risk beside it, the target's edge) are
    split into 2 × 2 × 2 sub-voxels, each with its own voxel-averaged dose, for the
    optimizer (:mod:`ionbeam.planning.sub_voxels`), so that organ maxima and coverage
    hold on a finer grid; 0 (default): off. Not with robust optimization.
    """

    gantry_deg: tuple[float, ...] = (0.0,)
    couch_deg: tuple[float, ...] | None = None
    beam_names: tuple[str | None, ...] | None = None
    range_shifter_wet_mm: tuple[float | None, ...] | None = None
    fine_sampling: int = 0
    dose_engine: str | None = None
    technique: str = "impt"
    rbe_model: str | None = None
    constant_rbe: float = 1.1
    biological_quantity: str = "rbe_weighted_dose"
    spot_spacing_mm: float | None = None
    spot_margin_mm: float | None = None
    dose_grid_mm: float = DEFAULT_DOSE_GRID_MM
    energy_stride: int = 1
    lateral_cutoff_sigma: float = 3.0
    target_tissue: str | TissueParameters = "tumour"
    normal_tissue: str | TissueParameters = "late_normal"
    structure_tissues: Mapping[str, str | TissueParameters] = field(default_factory=dict)
    overlap_priority: tuple[str, ...] | None = None
    solver: SolverOptions = field(default_factory=SolverOptions)
    method: str = "lbfgsb"
    spot_limits: bool = True
    ripple_filter: bool | None = None
    range_margin_fraction: float = 0.0
    oar_supersampling_mm: float = 0.0

    def __post_init__(self) -> None:
        gantry = tuple(float(g) for g in self.gantry_deg)
        couch = tuple(0.0 for _ in gantry) if self.couch_deg is None else tuple(self.couch_deg)
        if not gantry or len(couch) != len(gantry):
            raise ConfigError(
                f"need one couch angle per gantry angle; got {len(gantry)} gantry and "
                f"{len(couch)} couch angles"
            )
        if not all(math.isfinite(a) and 0.0 <= a < 360.0 for a in (*gantry, *couch)):
            raise ConfigError(
                f"beam angles must be degrees in [0, 360); got gantry {gantry}, couch {couch}"
            )
        object.__setattr__(self, "gantry_deg", gantry)
        object.__setattr__(self, "couch_deg", tuple(float(c) for c in couch))
        for name in ("beam_names", "range_shifter_wet_mm"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(value)
                if len(value) != len(gantry):
                    raise ConfigError(f"need one entry of {name} per beam; got {value!r}")
                object.__setattr__(self, name, value)
        for shifter in self.range_shifter_wet_mm or ():
            if shifter is not None and not (math.isfinite(shifter) and shifter >= 0):
                raise ConfigError(f"range_shifter_wet_mm must be ≥ 0 mm or None; got {shifter}")
        if self.fine_sampling not in (0, *range(2, 10)):
            raise ConfigError(
                f"fine_sampling must be 0 (off) or 2–9 sub-beams per side; got {self.fine_sampling}"
            )
        engine = DOSE_ENGINES[self.dose_engine or engine_name(self.fine_sampling)]
        sampling = engine.options(DoseEngineOptions(fine_sampling=self.fine_sampling))
        object.__setattr__(self, "dose_engine", engine.name)
        object.__setattr__(self, "fine_sampling", sampling.fine_sampling)
        _choice("planning technique", self.technique, _TECHNIQUES)
        _choice("biological quantity", self.biological_quantity, _QUANTITIES)
        for name in ("dose_grid_mm", "lateral_cutoff_sigma", "constant_rbe"):
            _positive(name, getattr(self, name))
        if self.spot_spacing_mm is not None:
            _positive("spot_spacing_mm", self.spot_spacing_mm)
        margin = self.spot_margin_mm
        if margin is not None and not (isinstance(margin, (int, float)) and 0 <= margin < 100):
            raise ConfigError(f"spot_margin_mm must be a number of mm in 0–100; got {margin!r}")
        f = self.range_margin_fraction
        if not (isinstance(f, (int, float)) and 0.0 <= f < 0.5):
            raise ConfigError(f"range_margin_fraction must be within [0, 0.5); got {f!r}")
        if not (isinstance(self.energy_stride, int) and self.energy_stride >= 1):
            raise ConfigError(f"energy_stride must be an integer ≥ 1; got {self.energy_stride!r}")
        band = self.oar_supersampling_mm
        if not (
            isinstance(band, (int, float))
            and not isinstance(band, bool)
            and 0.0 <= band <= MAX_BAND_MM
        ):
            raise ConfigError(
                f"oar_supersampling_mm must be a distance in 0–{MAX_BAND_MM:g} mm (0: off); "
                f"got {band!r}"
            )
        if self.ripple_filter is not None and not isinstance(self.ripple_filter, bool):
            raise ConfigError(
                f"ripple_filter must be true, false or unset; got {self.ripple_filter!r}"
            )


@dataclass(frozen=True, eq=False)
class PlanningResult:
    """An optimized plan and its doses per fraction on ``grid`` [x, y, z].

    ``dose_gy``: physical dose; ``rbe_dose_gy``: RBE-weighted dose (Gy(RBE); None
    without an RBE model); ``let_d_kev_um``: dose-averaged LET; ``masks``: the
    structures on the dose grid (voxels at least half inside); ``objectives``: per
    structure, as optimized; ``optimization``: one result (IMPT) or one per beam
    (SFUD); ``timings_s``: wall time per stage; ``occupancy``: the fraction of each
    dose-grid voxel inside each structure (the voxel weights of metrics and DVHs;
    None: use ``masks``).
    """

    plan: Plan
    influence: DoseInfluence
    masks: Mapping[str, np.ndarray]
    dose_gy: np.ndarray
    rbe_dose_gy: np.ndarray | None
    let_d_kev_um: np.ndarray | None
    objectives: StructureObjectives
    optimization: tuple[OptimizationResult, ...]
    timings_s: Mapping[str, float]
    occupancy: Mapping[str, np.ndarray] | None = None

    @property
    def grid(self) -> Grid:
        """The dose grid."""
        return self.influence.grid

    @property
    def structure_weights(self) -> Mapping[str, np.ndarray]:
        """Each structure's occupancy (or its mask) for metrics: they count the voxels
        at least half inside, each whole, and take the volume from the occupancy."""
        return self.masks if self.occupancy is None else self.occupancy

    @property
    def evaluated_dose_gy(self) -> np.ndarray:
        """The dose the prescription refers to: RBE-weighted when an RBE model applies."""
        return self.dose_gy if self.rbe_dose_gy is None else self.rbe_dose_gy

    def beam_dose_gy(self, index: int) -> np.ndarray:
        """Physical dose (Gy per fraction) of beam ``index`` alone."""
        offsets = self.plan.beam_offsets
        if not 0 <= index < len(self.plan.beams):
            raise UnknownNameError("beam index", index, [str(i) for i in range(len(offsets) - 1)])
        weights = np.zeros(self.plan.n_spots)
        columns = slice(int(offsets[index]), int(offsets[index + 1]))
        weights[columns] = self.plan.weights[columns]
        return self.influence.dose_gy(weights)


def resolve_rbe_model(particle: str, rbe_model: str | None) -> str:
    """The RBE model name for ``particle``: ``none``, ``constant``, a proton model or ``mkm``."""
    ion = get_particle(particle)
    if rbe_model is None:
        return "constant" if ion.z == 1 else "mkm"
    key = str(rbe_model).strip().lower()
    if key == "constant" and ion.z > 1:
        raise ConfigError(
            f"a constant RBE is not a clinical model for {ion.name} ions (their RBE varies "
            "from about 1 in the plateau to 3 or more in the peak); use mkm (the default) "
            "or none (physical dose)"
        )
    allowed = rbe_models_for(ion)
    if key not in allowed:
        raise UnknownNameError(f"RBE model for {ion.name}", rbe_model, allowed)
    return key


def resolve_ripple_filter(particle: str, ripple_filter: bool | None, machine: Machine) -> bool:
    """Whether beams of ``particle`` use ``machine``'s ripple filter: ``ripple_filter`` when
    given (True on a line without one is refused), else the particle's default
    (:func:`~ionbeam.machine.default_ripple_filter`) where the line has a filter. Where
    the particle's commissioned curves were measured with the filter, beams use it
    (False is refused)."""
    line = machine.beam_line
    if line.curves_include_filter(particle):
        if ripple_filter is False:
            raise ConfigError(
                f"ripple_filter = false, but the {get_particle(particle).name} depth-dose "
                f"curves of beam line {line.name!r} were measured with its ripple filter; "
                "plan with the filter or commission curves measured without it"
            )
        return True
    if ripple_filter is None:
        return machine.beam_line.ripple_filter is not None and default_ripple_filter(particle)
    if ripple_filter and machine.beam_line.ripple_filter is None:
        raise ConfigError(
            f"ripple_filter = true, but machine {machine.name!r} has no ripple filter on its "
            "beam line; set ripple_filter = false or use a machine with one"
        )
    return bool(ripple_filter)


def plan_patient(
    patient: Patient,
    prescription: Prescription,
    *,
    particle: str,
    objectives: StructureObjectives | None = None,
    options: PlanningOptions | None = None,
    machine: Machine | None = None,
    calibration: HUCalibration | None = None,
    on_stage: Callable[[str], None] | None = None,
    robust: RobustOptions | None = None,
) -> PlanningResult:
    """Plan ``patient`` for ``prescription`` with ``particle`` (see the module docstring).

    ``objectives``: per structure name, dose levels per fraction (default:
    :func:`~ionbeam.planning.optimize.templates.default_objectives`);
    ``calibration``: the CT's HU → SPR table (default: the stoichiometric one).
    ``on_stage``: called with one line of text as each stage ends (progress).
    Beams go in any direction, as on a gantry; whether ``machine`` can give them is
    :meth:`~ionbeam.machine.Machine.check_beam_direction` (``ionbeam plan`` calls it);
    ``robust``: optimize over error scenarios (:mod:`ionbeam.planning.robust`).
    """
    options = PlanningOptions() if options is None else options
    if robust is not None and options.oar_supersampling_mm > 0:
        raise ConfigError(
            "oar_supersampling_mm is not available with robust optimization; set it to 0"
        )
    machine = cnao_machine() if machine is None else machine
    particle = get_particle(particle).name
    rbe_model = resolve_rbe_model(particle, options.rbe_model)
    target = patient.structures[prescription.target].name  # unknown → UnknownNameError
    dose_gy = prescription.dose_per_fraction_gy
    objectives = (
        default_objectives(list(patient.structures), target, dose_gy)
        if objectives is None
        else dict(objectives)
    )
    timings: dict[str, float] = {}
    clock = _Clock(timings, on_stage)
    ripple_filter = resolve_ripple_filter(particle, options.ripple_filter, machine)
    physics = _physics_model(machine, particle, options.energy_stride)
    physics = physics.with_ripple_filter(ripple_filter)
    clock.lap("beam_model_s")
    if robust is not None:  # spots that can cover the target in every scenario
        options = robust.spot_options(options, _spot_spacing(physics, options))
    beams = _place_beams(patient, physics, machine, target, options, calibration)
    plan = Plan(particle, beams, prescription, machine=machine.name, rbe_model=rbe_model)
    clock.lap("spots_s")
    grid = _dose_grid(patient, options)
    occupancy = occupancy_on_grid(list(patient.structures.values()), grid)
    masks = {name: masks_from_occupancy(f) for name, f in occupancy.items()}
    tissues, tissue_map = _tissue_map(masks, target, options)
    model = _dose_model(physics, plan, rbe_model, tissues)
    clock.lap("biology_model_s")
    influence = _influence(patient, plan, model, grid, calibration, tissue_map, options)
    clock.lap("dose_influence_s")
    alpha_x, beta_x = _photon_lq(tissues, tissue_map)
    quantity = _quantity(rbe_model, options, alpha_x, beta_x)
    priority = options.overlap_priority or overlap_priority(list(objectives), target)
    fractions: Mapping[str, np.ndarray] = occupancy  # the optimizer's voxel weights
    optimized, opt_quantity = influence, quantity
    if options.oar_supersampling_mm > 0:
        sub = _sub_voxels(patient, plan, model, influence, occupancy, objectives, target,
                          tissue_map, calibration, options)  # fmt: skip
        optimized = dataclasses.replace(influence, sub_voxels=sub)
        order = [n for n in priority if n in objectives]
        order += [n for n in objectives if n not in order]
        fractions = sub_voxel_fractions(sub, list(patient.structures.values()), occupancy, order)
        opt_quantity = _quantity(rbe_model, options, sub.extend(alpha_x), sub.extend(beta_x))
        clock.lap("sub_voxel_influence_s")
    run: Callable[..., Any] = optimize_sfud if options.technique == "sfud" else optimize_impt
    if robust is not None:  # the scenarios' matrices, computed as the optimizer reads them
        from ionbeam.planning.robust.planning import robust_strategy

        run = robust_strategy(robust, options.technique, patient, plan, influence, _influence,
                              (model, grid, calibration, tissue_map, options))  # fmt: skip
    limits = machine.spot_limit(particle)
    settings = dict(
        quantity=opt_quantity, plan=plan, target=target, level=dose_gy, priority=priority,
        method=options.method, solver=options.solver,
        min_particles=limits.min_particles if options.spot_limits else 0.0,
        max_particles=limits.max_particles,
    )  # fmt: skip
    # the structures as occupancies: every voxel a structure touches, weighted by its share
    if robust is None and options.technique != "sfud" and influence.halo is not None:
        weights, results = _with_full_halo(optimized, fractions, objectives, clock, **settings)
    else:
        weights, results = run(optimized, fractions, objectives, **settings)
        clock.lap("optimization_s")
    if robust is None and options.technique == "sfud" and influence.halo is not None:
        weights = _sfud_with_full_halo(influence, weights, masks[target], quantity)
        clock.lap("halo_rescaling_s")
    doses = _final_doses(influence, weights, rbe_model, options.constant_rbe, alpha_x, beta_x)
    clock.lap("final_dose_s")
    settings = _settings(patient, options, rbe_model, quantity, tissues, objectives, grid, timings)
    settings["hu_calibration"] = "stoichiometric" if calibration is None else calibration.source
    settings["planning"]["ripple_filter"] = ripple_filter  # as resolved for the particle
    if robust is not None:
        settings["robust"] = robust.to_dict()
    return PlanningResult(
        plan=dataclasses.replace(plan.with_weights(weights), settings=settings),
        influence=influence,
        masks=masks,
        dose_gy=doses[0],
        rbe_dose_gy=doses[1],
        let_d_kev_um=doses[2],
        objectives=objectives,
        optimization=results,
        timings_s=timings,
        occupancy=occupancy,
    )


def dose_of_plan(
    patient: Patient,
    plan: Plan,
    *,
    options: PlanningOptions | None = None,
    machine: Machine | None = None,
    calibration: HUCalibration | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> PlanningResult:
    """Recompute the doses of ``plan`` (its spot weights as they are) on ``patient``:
    physical, RBE-weighted (the plan's RBE model) and LET_d per fraction, with the
    dose grid, tissues and engine settings of ``options`` (e.g. rebuilt from the
    plan's settings with :func:`planning_options_from_settings`). The result has no
    optimization record."""
    options = PlanningOptions() if options is None else options
    machine = cnao_machine() if machine is None else machine
    rbe_model = resolve_rbe_model(plan.particle, plan.rbe_model)
    target = patient.structures[plan.prescription.target].name
    timings: dict[str, float] = {}
    clock = _Clock(timings, on_stage)
    grid = _dose_grid(patient, options)
    occupancy = occupancy_on_grid(list(patient.structures.values()), grid)
    masks = {name: masks_from_occupancy(f) for name, f in occupancy.items()}
    tissues, tissue_map = _tissue_map(masks, target, options)
    if plan.n_spots == 0:
        raise ConfigError("the plan has no spots; there is no dose to compute")
    energies = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    physics = build_beam_model(plan.particle, energies, machine.beam_line)
    model = _dose_model(physics, plan, rbe_model, tissues)
    clock.lap("beam_model_s")
    influence = _influence(patient, plan, model, grid, calibration, tissue_map, options)
    clock.lap("dose_influence_s")
    alpha_x, beta_x = _photon_lq(tissues, tissue_map)
    doses = _final_doses(influence, plan.weights, rbe_model, options.constant_rbe, alpha_x, beta_x)
    clock.lap("final_dose_s")
    return PlanningResult(
        plan, influence, masks, doses[0], doses[1], doses[2], {}, (), timings, occupancy
    )


def planning_options_from_settings(settings: Mapping[str, Any]) -> PlanningOptions:
    """The :class:`PlanningOptions` recorded in a plan's settings (``plan.json``), so that
    its doses can be recomputed as they were planned; missing entries take defaults."""
    recorded = dict(settings.get("planning") or {})
    known = {f.name for f in dataclasses.fields(PlanningOptions)}
    values = {k: v for k, v in recorded.items() if k in known}
    if isinstance(values.get("solver"), Mapping):
        solver_fields = {f.name for f in dataclasses.fields(SolverOptions)}
        values["solver"] = SolverOptions(
            **{k: v for k, v in values["solver"].items() if k in solver_fields}
        )
    for name in ("gantry_deg", "couch_deg", "overlap_priority"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    try:
        return PlanningOptions(**values)
    except TypeError as exc:
        raise ConfigError(f"the plan's recorded planning settings are malformed: {exc}") from None


class _Clock:
    """Records the wall time of consecutive stages into a dict (and reports each)."""

    def __init__(
        self, timings: dict[str, float], on_stage: Callable[[str], None] | None = None
    ) -> None:
        self.timings = timings
        self.on_stage = on_stage
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = now - self.last
        self.last = now
        if self.on_stage is not None:
            stage = name.removesuffix("_s").replace("_", " ")
            self.on_stage(f"{stage} done in {self.timings[name]:.1f} s")


def _dose_grid(patient: Patient, options: PlanningOptions) -> Grid:
    """The dose grid, refused when its per-voxel arrays would not fit in memory."""
    grid = make_dose_grid(patient.grid, options.dose_grid_mm)
    check_fits(
        dose_grid_bytes(grid.size, len(patient.structures)),
        what=f"a dose grid of {grid.size:,} voxels ({options.dose_grid_mm:g} mm)",
        hint="use a coarser dose grid (--grid / dose_grid_mm)",
    )
    return grid


def _physics_model(machine: Machine, particle: str, stride: int) -> BeamModel:
    energies = machine.energy_library(particle).energies_mev_u
    return build_beam_model(particle, energies[::-1][::stride][::-1], machine.beam_line)


def _spot_spacing(physics: BeamModel, options: PlanningOptions) -> float:
    if options.spot_spacing_mm is not None:
        return float(options.spot_spacing_mm)
    middle = float(physics.energies_mev_u[physics.n_energies // 2])
    sigma = float(physics.beam_line.sigma_air_mm(physics.particle, middle, 0.0))
    return max(0.5, round(2.0 * SPOT_SPACING_SIGMAS * sigma) / 2.0)


def _place_beams(
    patient: Patient,
    physics: BeamModel,
    machine: Machine,
    target: str,
    options: PlanningOptions,
    calibration: HUCalibration | None,
) -> tuple[Beam, ...]:
    spr = patient.ct.spr(calibration)
    structure = patient.structures[target]
    x_mm, y_mm, z_mm = (float(v) for v in structure.centroid_mm)
    isocenter = (x_mm, y_mm, z_mm)
    spacing = _spot_spacing(physics, options)
    margin = spacing if options.spot_margin_mm is None else float(options.spot_margin_mm)
    covered = (structure.expand(margin).mask if margin > 0 else structure.mask) & (spr > 0.05)
    n_beams = len(options.gantry_deg)
    names = options.beam_names or (None,) * n_beams
    shifters = options.range_shifter_wet_mm or (None,) * n_beams
    beams = []
    couches = cast("tuple[float, ...]", options.couch_deg)  # filled in by PlannerOptions
    for k, (gantry, couch) in enumerate(zip(options.gantry_deg, couches, strict=True)):
        geometry = BeamGeometry(
            gantry_deg=gantry,
            couch_deg=couch,
            isocenter_mm=isocenter,
            sad_mm=machine.beam_line.sad_mm,
        )
        wepl = np.zeros(patient.grid.shape, dtype=np.float32)
        wepl[covered] = wepl_at_points(
            spr, patient.grid, geometry, patient.grid.index_to_world(np.argwhere(covered))
        )
        shifter = shifters[k]
        if shifter is None:
            shifter = _automatic_range_shifter(wepl[covered], physics, machine)
        spots = place_spots(
            spr,
            patient.grid,
            covered,
            geometry,
            energies_mev_u=physics.energies_mev_u,
            peak_depths_mm=physics.bragg_peak_mm,
            spot_spacing_mm=spacing,
            range_shifter_wet_mm=shifter,
            wepl_mm=wepl,
            range_margin_fraction=options.range_margin_fraction,
        )
        name = names[k] or f"B{k + 1}_G{gantry:g}"
        beams.append(
            Beam(
                name,
                geometry,
                spots,
                range_shifter_wet_mm=shifter,
                ripple_filter=physics.ripple_filter is not None,
            )
        )
    return tuple(beams)


def _automatic_range_shifter(wepl_mm: np.ndarray, physics: BeamModel, machine: Machine) -> float:
    """The machine's range shifter (mm WET) when the target reaches shallower than the
    lowest energy's Bragg peak by more than one layer step (where spot placement could
    not cover it), else 0."""
    peaks = np.sort(np.asarray(physics.bragg_peak_mm, dtype=float))
    step = float(np.max(np.diff(peaks))) if peaks.size > 1 else 1.0
    if wepl_mm.size == 0 or float(wepl_mm.min()) >= peaks[0] - step:
        return 0.0
    return float(machine.range_shifter_wet_mm or 0.0)


def _influence(
    patient: Patient,
    plan: Plan,
    model: BeamModel,
    grid: Grid,
    calibration: HUCalibration | None,
    tissue_map: np.ndarray,
    options: PlanningOptions,
) -> DoseInfluence:
    """The plan's dose-influence matrix on ``grid`` (with the tissue map where the beam
    model carries biology)."""
    return _engine_influence(options)(
        patient.ct,
        plan,
        model,
        dose_grid=grid,
        structures=patient.structures.values(),
        calibration=calibration,
        tissue_map=tissue_map if model.has_biology else None,
        options=_engine_options(options),
    )


def _engine_influence(options: PlanningOptions) -> InfluenceFunction:
    return DOSE_ENGINES[options.dose_engine or engine_name(options.fine_sampling)].influence


def _engine_options(options: PlanningOptions) -> DoseEngineOptions:
    return DoseEngineOptions(
        lateral_cutoff_sigma=options.lateral_cutoff_sigma, fine_sampling=options.fine_sampling
    )


def _tissue_map(
    masks: Mapping[str, np.ndarray], target: str, options: PlanningOptions
) -> tuple[tuple[TissueParameters, ...], np.ndarray]:
    """Tissues in use and the index of each dose-grid voxel's tissue."""
    normal, tumour = get_tissue(options.normal_tissue), get_tissue(options.target_tissue)
    assigned = [(name, get_tissue(t)) for name, t in options.structure_tissues.items()]
    for name, _ in assigned:
        if name not in masks:
            raise UnknownNameError("structure (in structure_tissues)", name, masks)
    tissues = list(dict.fromkeys([normal, tumour, *(t for _, t in assigned)]))
    shape = next(iter(masks.values())).shape
    index = np.zeros(shape, dtype=np.int64)
    for name, tissue in [(target, tumour), *assigned]:
        index[masks[name]] = tissues.index(tissue)
    return tuple(tissues), index


def _dose_model(
    physics: BeamModel, plan: Plan, rbe_model: str, tissues: Sequence[TissueParameters]
) -> BeamModel:
    if rbe_model in ("none", "constant"):
        return physics
    energies = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    return build_beam_model(
        plan.particle,
        energies,
        physics.beam_line,
        tissues=list(tissues),
        biological_model=rbe_model,
        ripple_filter=physics.ripple_filter is not None,
    )


def _photon_lq(
    tissues: Sequence[TissueParameters], tissue_map: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    alpha = np.array([t.alpha_x_gy for t in tissues])[tissue_map]
    beta = np.array([t.beta_x_gy2 for t in tissues])[tissue_map]
    return alpha, beta


def _quantity(
    rbe_model: str, options: PlanningOptions, alpha_x: np.ndarray, beta_x: np.ndarray
) -> Quantity:
    if rbe_model == "none":
        return PhysicalDose()
    if rbe_model == "constant":
        return ConstantRBEDose(options.constant_rbe)
    if options.biological_quantity == "biological_effect":
        return BiologicalEffect(alpha_x, beta_x)
    return RBEWeightedDose(alpha_x, beta_x)


def _sfud_with_full_halo(
    influence: DoseInfluence, weights: np.ndarray, target_mask: np.ndarray, quantity: Quantity
) -> np.ndarray:
    """SFUD weights scaled by the one factor that gives the target, with the full-width
    halo (:mod:`ionbeam.planning.halo`), the mean quantity the optimization gave it with
    the matrices' disc halo (the fields keep their shapes, as SFUD wants; the halo's
    correction scales with the weights)."""
    halo = influence.halo
    if halo is None:
        return weights
    correction = halo.correction(weights)
    names = ("dose", "let_dose", "alpha_dose", "sqrt_beta_dose")
    offsets = {n: c for n, c in zip(names, correction, strict=True) if c is not None}
    rows = restrict_influence(influence, np.flatnonzero(target_mask), matrices=quantity.matrices)
    kept = {n: offsets[n][rows.voxel_index] for n in quantity.matrices if n in offsets}
    size = influence.grid.size
    goal = float(np.mean(quantity.bind(rows, grid_size=size).forward(weights)[0]))

    def excess(log_s: float) -> float:
        s = math.exp(log_s)
        scaled = dataclasses.replace(rows, offsets={n: s * v for n, v in kept.items()})
        return float(np.mean(quantity.bind(scaled, grid_size=size).forward(s * weights)[0])) - goal

    factor = math.exp(brentq(excess, -0.5, 0.5, xtol=1e-10))
    halo.keep_scaled(weights, factor)  # the final dose's correction, computed once
    return weights * factor


def _with_full_halo(
    influence: DoseInfluence,
    masks: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    clock: _Clock,
    **settings: Any,
) -> tuple[np.ndarray, tuple[OptimizationResult, ...]]:
    """IMPT for the dose with the full-width halo (:mod:`ionbeam.planning.halo`): the
    matrices keep each spot's halo inside its cut-off disc, the reported dose carries
    it at full width. The correction (halo by convolution − disc halo) costs a dose
    calculation, so it is held fixed: the optimization runs to its stopping rule (times
    :data:`~ionbeam.planning.optimize.weights.FIRST_LEG_TOLERANCE`), the correction of
    its weights becomes a fixed offset of the products and the same problem is optimized
    on from there, without rebuilding it and with the spot limits applied once
    (:func:`~ionbeam.planning.optimize.weights.optimize_impt` with ``offsets``). The
    correction is linear in the weights, which then move by a few per cent, so the
    objectives are met on the reported dose to second order. Where the correction of
    the final weights differs from the one held by more than
    :data:`HALO_CHANGE_TOLERANCE` of the target's mean dose anywhere in the target, one
    more optimization runs with the new correction held."""
    held: list[HaloTerms] = []

    def halo_offsets(weights: np.ndarray) -> dict[str, np.ndarray]:
        clock.lap("optimization_s")
        held.append(_halo_correction(influence, weights, with_let=False))
        return _as_offsets(held[-1], influence.sub_voxels)

    weights, results = optimize_impt(influence, masks, objectives, offsets=halo_offsets, **settings)
    target = np.flatnonzero(np.asarray(masks[settings["target"]]).reshape(-1) > 0)
    if influence.sub_voxels is not None:  # a sub-voxel's correction is its parent's
        target = influence.sub_voxels.parents_of(target)
    now = _halo_correction(influence, weights)  # kept by the halo for the final dose
    if _halo_change(influence, weights, held[-1], now, target) > HALO_CHANGE_TOLERANCE:
        offsets = _as_offsets(now, influence.sub_voxels)
        corrected = dataclasses.replace(influence, optimizer_offsets=offsets)
        solver = settings.get("solver") or SolverOptions()
        settings["solver"] = dataclasses.replace(solver, description=f"{solver.description} (halo)")
        weights, more = optimize_impt(
            corrected, masks, objectives, initial_weights=weights, **settings
        )
        results = (*results, *more)
    clock.lap("halo_reoptimization_s")
    return weights, results


def _halo_correction(
    influence: DoseInfluence, weights: np.ndarray, *, with_let: bool = True
) -> HaloTerms:
    """The halo's correction for ``weights`` (``with_let=False``: without LET×dose, which
    the optimizer's offsets never read: ~10 % of a carbon correction's time)."""
    if influence.halo is None:
        raise ConfigError("the dose influence carries no halo field; there is no correction")
    return influence.halo.correction(weights, with_let=with_let)


def _as_offsets(correction: HaloTerms, sub: SubVoxels | None = None) -> dict[str, np.ndarray]:
    """The halo's correction as the optimizer's offsets (the optimizer reads no LET), each
    sub-voxel with its parent's (the halo is flat across a voxel)."""
    return {
        name: value if sub is None else sub.extend(value)
        for name, value in correction._asdict().items()
        if value is not None and name != "let_dose"
    }


def _sub_voxels(
    patient: Patient,
    plan: Plan,
    model: BeamModel,
    influence: DoseInfluence,
    occupancy: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    target: str,
    tissue_map: np.ndarray,
    calibration: HUCalibration | None,
    options: PlanningOptions,
) -> SubVoxels:
    """The sub-voxels of the voxels with objectives near the target's surface
    (``options.oar_supersampling_mm``), with their matrices from the plan's engine (the
    halo inside the cut-off disc, as the optimizer's matrices hold it)."""
    grid = influence.grid
    carried = np.zeros(grid.size, dtype=bool)
    for name in objectives:
        carried |= np.asarray(occupancy[name]).reshape(-1) > 0.0
    voxels = band_voxels(occupancy[target], grid, options.oar_supersampling_mm,
                         carried.reshape(grid.shape))  # fmt: skip
    sub = split_voxels(grid, voxels)
    engine = _engine_influence(options)
    engine_options = dataclasses.replace(_engine_options(options), halo="disc")

    def compute(**where: Any) -> DoseInfluence:
        return engine(patient.ct, plan, model, calibration=calibration, options=engine_options,
                      **where)  # fmt: skip

    return sub_voxel_influence(sub, compute, tissue_map if model.has_biology else None)


def _halo_change(
    influence: DoseInfluence,
    weights: np.ndarray,
    held: HaloTerms,
    now: HaloTerms,
    target: np.ndarray,
) -> float:
    """The largest change in the target of the halo's dose correction from the one held
    to the one of ``weights``, as a fraction of the target's mean dose there."""
    mean = float(np.mean(influence.products(weights).dose[target]))
    change = float(np.max(np.abs(now.dose[target] - held.dose[target])))
    return change / mean if mean > 0.0 else 0.0


def _final_doses(
    influence: DoseInfluence,
    weights: np.ndarray,
    rbe_model: str,
    constant_rbe: float,
    alpha_x: np.ndarray,
    beta_x: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Physical dose, RBE-weighted dose (None without an RBE model) and LET_d on the grid."""
    dose = influence.dose_gy(weights)
    let_d = influence.let_d_kev_um(weights) if influence.let_dose is not None else None
    if rbe_model == "none":
        return dose, None, let_d
    if rbe_model == "constant":
        return dose, constant_rbe * dose, let_d
    products = influence.products(weights)
    if products.alpha_dose is None or products.sqrt_beta_dose is None:
        raise ConfigError(f"the {rbe_model} RBE model needs a dose influence with α/β tables")
    effect = np.maximum(products.alpha_dose + products.sqrt_beta_dose**2, 0.0)
    rbe_dose = rbe_weighted_dose(effect, alpha_x.reshape(-1), beta_x.reshape(-1))
    return dose, rbe_dose.reshape(influence.grid.shape), let_d


def _settings(
    patient: Patient,
    options: PlanningOptions,
    rbe_model: str,
    quantity: Quantity,
    tissues: Sequence[TissueParameters],
    objectives: StructureObjectives,
    grid: Grid,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """What the plan was made with, JSON-ready (for ``Plan.settings``)."""
    planning = dataclasses.asdict(options)
    planning["solver"] = dataclasses.asdict(options.solver)
    planning["target_tissue"] = get_tissue(options.target_tissue).name
    planning["normal_tissue"] = get_tissue(options.normal_tissue).name
    planning["structure_tissues"] = {
        k: get_tissue(v).name for k, v in options.structure_tissues.items()
    }
    return {
        "ionbeam_version": __version__,
        "patient": {"name": patient.name, **_jsonable_metadata(patient.metadata)},
        "planning": planning,
        "rbe_model": rbe_model,
        "optimized_quantity": quantity.name,
        "tissues": [
            dataclasses.asdict(t) | {"mkm": dataclasses.asdict(t.mkm_parameters())} for t in tissues
        ],
        "objectives": {
            name: [_objective_dict(o) for o in _as_list(objs)] for name, objs in objectives.items()
        },
        "dose_grid": {
            "shape": list(grid.shape),
            "spacing_mm": list(grid.spacing_mm),
            "origin_mm": list(grid.origin_mm),
        },
        "dose_engine": {"name": options.dose_engine} | dataclasses.asdict(_engine_options(options)),
        "timings_s": dict(timings),
    }


def _as_list(objectives: Any) -> list[Any]:
    return list(objectives) if isinstance(objectives, (list, tuple)) else [objectives]


def _objective_dict(objective: Any) -> dict[str, Any]:
    return {"type": type(objective).__name__, **dataclasses.asdict(objective)}


def _jsonable_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in metadata.items() if isinstance(v, (str, int, float, dict, list))}


def _choice(kind: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise UnknownNameError(kind, value, allowed)


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0; got {value!r}")
