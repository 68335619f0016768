"""Plan evaluation: DVHs, dose metrics, clinical goals and hot spots, conformity/homogeneity,
gamma index.

Structures are passed as boolean masks, partial-volume weight arrays (0–1; the
voxels at least half inside count, each whole, as in external DVH tools),
or objects with ``.mask`` and ``.name``; doses as arrays on a
:class:`~ionbeam.patient.Grid` in Gy (or Gy(RBE)).
"""

from ionbeam.evaluation.dvh import (
    DoseVolumeHistogram,
    d_at_volume,
    dose_volume_histogram,
    dose_volume_histograms,
    max_dose,
    mean_dose,
    min_dose,
    v_at_dose,
)
from ionbeam.evaluation.gamma import GammaOptions, GammaResult, gamma_index
from ionbeam.evaluation.goals import (
    Goal,
    GoalReport,
    GoalResult,
    GoalSet,
    HotSpot,
    OrganDoses,
    default_goals,
    evaluate_goals,
)
from ionbeam.evaluation.indices import homogeneity_index, paddick_conformity_index
from ionbeam.evaluation.metrics import DoseMetrics, StructureMetrics, dose_metrics

__all__ = [
    "DoseMetrics",
    "DoseVolumeHistogram",
    "GammaOptions",
    "GammaResult",
    "Goal",
    "GoalReport",
    "GoalResult",
    "GoalSet",
    "HotSpot",
    "OrganDoses",
    "StructureMetrics",
    "d_at_volume",
    "default_goals",
    "dose_metrics",
    "dose_volume_histogram",
    "dose_volume_histograms",
    "evaluate_goals",
    "gamma_index",
    "homogeneity_index",
    "max_dose",
    "mean_dose",
    "min_dose",
    "paddick_conformity_index",
    "v_at_dose",
]
