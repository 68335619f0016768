"""What a report shows: one computed plan (:class:`PlanResult`) and display options.

The command line builds one :class:`PlanResult` per plan (the plan, its dose on
the dose grid, the metrics of that dose) and hands it to
:func:`~ionbeam.report.write_report` or
:func:`~ionbeam.report.write_comparison_report`. Everything is checked here,
once, at the boundary: the figure and HTML code trust these values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ionbeam.errors import ConfigError, GridMismatchError, OutOfRangeError
from ionbeam.evaluation import DoseMetrics, GoalReport
from ionbeam.patient import Grid
from ionbeam.planning import Plan

__all__ = ["DOSE_KINDS", "PlanResult", "ReportOptions", "checked_volume"]

#: Kinds of dose a result may hold, and the unit each is shown in.
DOSE_KINDS: dict[str, str] = {"physical": "Gy", "rbe": "Gy(RBE)"}


def checked_volume(
    values: np.ndarray, grid: Grid, *, name: str, unit: str, allow_negative: bool = False
) -> np.ndarray:
    """A read-only float32 copy of ``values`` after checking shape, finiteness and sign.

    Raises ``GridMismatchError`` when the shape is not ``grid.shape`` and
    ``OutOfRangeError`` for NaN, infinity or (unless ``allow_negative``) values < 0.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise GridMismatchError(f"{name} must be a numeric array; got dtype {array.dtype}")
    grid.check_volume(array, name)
    array = np.array(array, dtype=np.float32, copy=True)
    bad = array.size - int(np.count_nonzero(np.isfinite(array)))
    if bad:
        raise OutOfRangeError(
            f"{name} (NaN or infinity in {bad} of {array.size} voxels; fix its calculation)",
            "non-finite values",
            -math.inf if allow_negative else 0.0,
            math.inf,
            unit,
        )
    if not allow_negative and array.size and float(array.min()) < 0:
        raise OutOfRangeError(name, float(array.min()), 0.0, math.inf, unit)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class PlanResult:
    """One planned and evaluated treatment, as the report shows it.

    ``label``: a short name (``"protons"``); ``plan``: the plan; ``dose_gy``: the
    dose [x, y, z] on ``dose_grid`` (Gy, or Gy(RBE) when ``dose_kind`` is
    ``"rbe"``), per fraction or total as ``metrics`` were computed;
    ``metrics``: :func:`ionbeam.evaluation.dose_metrics` of that dose;
    ``let_d_kev_um``: optional dose-averaged LET on ``dose_grid`` (keV/µm);
    ``warnings``: lines the report lists (e.g. from the optimizer); ``goals``: the
    clinical goals of that dose (:func:`ionbeam.evaluation.evaluate_goals`), shown
    as a table, in the warnings when they fail, and with dose planes through the
    hottest point.

    For the interactive viewer, optionally: ``physical_dose_gy``, the physical dose
    beside an RBE-weighted ``dose_gy`` (Gy, ``dose_grid``); ``beam_doses_gy``, beam
    name → that beam's physical dose alone (Gy); ``scenario_doses_gy``, the doses
    of robustness scenarios (same kind and grid as ``dose_gy``), drawn as a band
    around each DVH (the hook for robust planning: pass the scenario doses, the
    report does the rest).
    """

    label: str
    plan: Plan
    dose_gy: np.ndarray
    dose_grid: Grid
    metrics: DoseMetrics
    dose_kind: Literal["physical", "rbe"] = "physical"
    let_d_kev_um: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    goals: GoalReport | None = None
    physical_dose_gy: np.ndarray | None = None
    beam_doses_gy: Mapping[str, np.ndarray] = field(default_factory=dict)
    scenario_doses_gy: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError(f"a plan result needs a non-empty label; got {self.label!r}")
        if not isinstance(self.plan, Plan):
            raise ConfigError(f"plan must be an ionbeam Plan; got {type(self.plan).__name__}")
        if not isinstance(self.dose_grid, Grid):
            raise GridMismatchError(
                f"dose_grid must be an ionbeam Grid; got {type(self.dose_grid).__name__}"
            )
        if not isinstance(self.metrics, DoseMetrics):
            raise ConfigError(
                "metrics must be the DoseMetrics of ionbeam.evaluation.dose_metrics; "
                f"got {type(self.metrics).__name__}"
            )
        if self.dose_kind not in DOSE_KINDS:
            raise ConfigError(
                f"dose_kind must be one of {', '.join(DOSE_KINDS)}; got {self.dose_kind!r}"
            )
        unit = DOSE_KINDS[self.dose_kind]
        dose = checked_volume(self.dose_gy, self.dose_grid, name="dose", unit=unit)
        object.__setattr__(self, "dose_gy", dose)
        if self.let_d_kev_um is not None:
            let = checked_volume(self.let_d_kev_um, self.dose_grid, name="LET_d", unit="keV/µm")
            object.__setattr__(self, "let_d_kev_um", let)
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        self._check_viewer_volumes(unit)
        if self.goals is not None and not isinstance(self.goals, GoalReport):
            raise ConfigError(
                "goals must be the GoalReport of ionbeam.evaluation.evaluate_goals; "
                f"got {type(self.goals).__name__}"
            )

    def _check_viewer_volumes(self, unit: str) -> None:
        if self.physical_dose_gy is not None:
            if self.dose_kind != "rbe":
                raise ConfigError(
                    "physical_dose_gy is for a result whose dose_gy is RBE-weighted; this "
                    "result's dose is already physical: leave physical_dose_gy out"
                )
            physical = checked_volume(
                self.physical_dose_gy, self.dose_grid, name="physical dose", unit="Gy"
            )
            object.__setattr__(self, "physical_dose_gy", physical)
        names = [beam.name for beam in self.plan.beams]
        beams = {}
        for name, dose in dict(self.beam_doses_gy).items():
            if name not in names:
                raise ConfigError(f"beam_doses_gy has beam {name!r}; the plan's beams are {names}")
            what = f"dose of beam {name}"
            beams[name] = checked_volume(dose, self.dose_grid, name=what, unit="Gy")
        object.__setattr__(self, "beam_doses_gy", beams)
        scenarios = tuple(
            checked_volume(d, self.dose_grid, name=f"dose of scenario {k + 1}", unit=unit)
            for k, d in enumerate(self.scenario_doses_gy)
        )
        object.__setattr__(self, "scenario_doses_gy", scenarios)

    @property
    def dose_unit(self) -> str:
        """``"Gy"`` or ``"Gy(RBE)"``."""
        return DOSE_KINDS[self.dose_kind]


@dataclass(frozen=True)
class ReportOptions:
    """How the report draws its figures.

    ``point_mm``: where the three dose planes cross (patient LPS, mm; default:
    the target's centroid); ``structures``: names to contour and plot (default:
    all those in the metrics); ``dose_threshold_fraction``: the dose wash hides
    doses below this fraction of the maximum shown; ``ct_window_hu``: grey-scale
    window of the CT; ``dpi``: resolution of the embedded PNGs;
    ``max_bragg_curves``: at most this many energies in the Bragg-curve figure;
    ``max_layers_per_beam``: at most this many energy layers in a beam's spot
    maps; ``max_plane_pixels``: CT planes larger than this along an axis are
    shown every n-th voxel (speed); ``spot_maps`` / ``bragg_curves``: whether
    to draw those sections; ``viewer``: whether to embed the interactive viewer
    (JavaScript, no network); ``viewer_max_voxels``: the CT in the viewer is
    thinned (every n-th voxel) to at most this many voxels; ``isodose_percent``:
    the viewer's starting isodose levels, % of the prescription.
    """

    point_mm: tuple[float, float, float] | None = None
    structures: tuple[str, ...] | None = None
    dose_threshold_fraction: float = 0.05
    ct_window_hu: tuple[float, float] = (-600.0, 1400.0)
    dpi: int = 90
    max_bragg_curves: int = 8
    max_layers_per_beam: int = 12
    max_plane_pixels: int = 320
    spot_maps: bool = True
    bragg_curves: bool = True
    viewer: bool = True
    viewer_max_voxels: int = 8_000_000
    isodose_percent: tuple[float, ...] = (30.0, 50.0, 80.0, 95.0, 100.0, 107.0)

    def __post_init__(self) -> None:
        if self.point_mm is not None:
            point = tuple(float(v) for v in np.asarray(self.point_mm, dtype=float).reshape(-1))
            if len(point) != 3 or not all(math.isfinite(v) for v in point):
                raise ConfigError(f"point_mm must be three finite mm values; got {self.point_mm}")
            object.__setattr__(self, "point_mm", point)
        if self.structures is not None:
            object.__setattr__(self, "structures", tuple(str(s) for s in self.structures))
        _check_range("dose_threshold_fraction", self.dose_threshold_fraction, 0.0, 0.99)
        low, high = (float(v) for v in self.ct_window_hu)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigError(f"ct_window_hu must be (low, high) with low < high; got {low, high}")
        for name, low_limit, high_limit in (
            ("dpi", 30, 600),
            ("max_bragg_curves", 1, 50),
            ("max_layers_per_beam", 1, 100),
            ("max_plane_pixels", 16, 4096),
            ("viewer_max_voxels", 1000, 200_000_000),
        ):
            value = getattr(self, name)
            if int(value) != value:
                raise ConfigError(f"{name} must be an integer; got {value!r}")
            _check_range(name, value, low_limit, high_limit)
        levels = tuple(float(v) for v in self.isodose_percent)
        if not levels or not all(math.isfinite(v) and 0 < v <= 300 for v in levels):
            raise ConfigError(
                f"isodose_percent must be levels in (0, 300] % of the prescription; got {levels}"
            )
        object.__setattr__(self, "isodose_percent", levels)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{name} must be within {low:g}–{high:g}; got {value!r}")


def unique_labels(results: Sequence[PlanResult]) -> None:
    """Raise ``ConfigError`` unless the results' labels are distinct."""
    labels = [r.label for r in results]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(f"plan labels must be distinct; repeated: {', '.join(repeated)}")
