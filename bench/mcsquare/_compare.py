"""Agreement of a pencil-beam dose with the Monte Carlo reference: gamma and target metrics.

The Monte Carlo dose (on the CT grid) is the reference: every reference voxel
above 10 % of its maximum looks for a match in the pencil-beam dose (on the
engine's own dose grid, interpolated by ionbeam's gamma search); global
2 %/2 mm and 3 %/3 mm, normalised to the maximum MC dose. Target D95 and mean
dose are taken on the engine's dose grid, with the MC dose interpolated
(trilinear) onto it and the target resampled (nearest neighbour).

Only the patient counts: MCsquare scores dose to water in every voxel it
crosses, air (−1000 HU) between its nozzle and the skin included, where the
dose-to-water conversion of a near-vacuum is meaningless (in the TG-119 case
27 % of MCsquare's scored energy sat outside the body and decided the 10 %
cut-off); the pencil beam computes dose inside the patient only. The MC dose is
therefore set to zero outside the body mask before anything is compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.evaluation import gamma_index
from ionbeam.evaluation.dvh import d_at_volume, mean_dose
from ionbeam.patient import Grid
from ionbeam.patient.resample import resample
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_grid import masks_on_grid


@dataclass(frozen=True)
class Agreement:
    """Gamma pass rates (%) and target D95 / mean dose (Gy) of the engine and of MC."""

    pass_2mm2pct: float
    pass_3mm3pct: float
    n_evaluated: int
    d95_gy: float
    d95_mc_gy: float
    mean_gy: float
    mean_mc_gy: float

    @property
    def d95_diff_percent(self) -> float:
        """Engine − MC, in % of MC's D95."""
        return 100.0 * (self.d95_gy / self.d95_mc_gy - 1.0)

    @property
    def mean_diff_percent(self) -> float:
        """Engine − MC, in % of MC's mean target dose."""
        return 100.0 * (self.mean_gy / self.mean_mc_gy - 1.0)


def agreement(
    mc_gy: np.ndarray,
    mc_grid: Grid,
    dose_gy: np.ndarray,
    dose_grid: Grid,
    target: Structure,
    body: np.ndarray,
) -> Agreement:
    """How ``dose_gy`` (on ``dose_grid``) agrees with the MC reference (on ``mc_grid``),
    inside ``body`` (a boolean mask on ``mc_grid``)."""
    mc_gy = np.where(body, mc_gy, 0.0)
    rates = []
    n = 0
    for criterion in (2.0, 3.0):
        result = gamma_index(
            mc_gy,
            mc_grid,
            dose_gy,
            dose_grid,
            dose_percent_threshold=criterion,
            distance_mm_threshold=criterion,
            lower_percent_dose_cutoff=10.0,
            max_gamma=2.0,
        )
        rates.append(result.pass_rate_percent)
        n = result.n_evaluated
    mask = masks_on_grid([target], dose_grid)[target.name]
    mc_on_grid = resample(mc_gy, mc_grid, dose_grid, method="linear")
    return Agreement(
        rates[0],
        rates[1],
        n,
        d_at_volume(dose_gy, mask, 0.95),
        d_at_volume(mc_on_grid, mask, 0.95),
        mean_dose(dose_gy, mask),
        mean_dose(mc_on_grid, mask),
    )
