"""A proton IMPT plan in water: the case the pencil beam must match MC on without heterogeneity.

The ``water`` phantom (160 mm water box, 2 mm voxels) with a 50 mm cubic target at
its centre, two fields (gantry 0° and 90°), 5 mm spots, ionbeam's CNAO beam,
optimized with the default objectives to 2 Gy, dose grid = the CT grid. MCsquare
recomputes it (``bench/accuracy_vs_mc.py --parts water``); compared: target mean,
gamma 2 %/2 mm and 1 %/1 mm (global, 10 % cut-off) inside the water.
"""

from __future__ import annotations

import numpy as np
from _plans import Case, _case

from ionbeam.evaluation import gamma_index
from ionbeam.patient.phantoms import make_phantom

#: Cube edge (mm), CT/dose voxel (mm), spot spacing (mm) and field angles (°).
TARGET_MM = 50.0
VOXEL_MM = 2.0
SPOT_SPACING_MM = 5.0
GANTRIES = (0.0, 90.0)


def water_impt_case() -> Case:
    """The optimized two-field plan on the water phantom."""
    patient = make_phantom("water", spacing_mm=VOXEL_MM, target_size_mm=TARGET_MM)
    structures = tuple(patient.structures[n] for n in patient.structures.names)
    target = patient.target_name or "Target"
    iso = patient.structures[target].centroid_mm
    return _case(
        "water IMPT", patient.ct, structures, target, GANTRIES, iso, SPOT_SPACING_MM, VOXEL_MM
    )


def gamma_pass_percent(
    mc_gy: np.ndarray, dose_gy: np.ndarray, case: Case, criterion: float
) -> float:
    """Global gamma pass rate (criterion % / criterion mm, 10 % cut-off) of the engine's
    dose against MC inside the body, on the CT grid."""
    body = np.logical_or.reduce([s.mask for s in case.structures])
    result = gamma_index(
        np.where(body, mc_gy, 0.0),
        case.ct.grid,
        dose_gy,
        case.dose_grid,
        dose_percent_threshold=criterion,
        distance_mm_threshold=criterion,
        lower_percent_dose_cutoff=10.0,
        max_gamma=2.0,
    )
    return float(result.pass_rate_percent)
