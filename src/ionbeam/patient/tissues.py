"""Reference human tissues for the stoichiometric HU calibration.

Elemental compositions (percent by mass) and mass densities of adult human
tissues from Woodard & White, *Br. J. Radiol.* 59 (1986) 1209–1219, the
table Schneider, Bortfeld & Schlegel, *Phys. Med. Biol.* 45 (2000) 459–478
(Table 1) reproduce for their stoichiometric calibration, plus dry air
(ICRU 37 / NIST composition) as the HU = -1000 anchor. The set spans the
groups Schneider et al. (1996) fit separately: lung, adipose tissue, soft
tissue and skeletal tissue.

Every composition sums to 100 % within the 0.1 % rounding of the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["AIR", "REFERENCE_TISSUES", "TISSUE_GROUPS", "WATER", "ReferenceTissue"]

TissueGroup = Literal["air", "lung", "adipose", "soft_tissue", "bone"]

#: Tissue groups in order of increasing HU; also the tissue classes of a calibration.
TISSUE_GROUPS: tuple[str, ...] = ("air", "lung", "adipose", "soft_tissue", "bone")


@dataclass(frozen=True)
class ReferenceTissue:
    """A tissue: name, group, mass density (g/cm³) and mass fractions {Z: w} (sum 1)."""

    name: str
    group: str
    density_g_cm3: float
    mass_fractions: MappingProxyType

    @classmethod
    def from_percent(
        cls, name: str, group: TissueGroup, density_g_cm3: float, percent: dict[int, float]
    ) -> ReferenceTissue:
        """A tissue from mass percentages (renormalised to exactly 1)."""
        total = sum(percent.values())
        fractions = {z: w / total for z, w in sorted(percent.items())}
        return cls(name, group, density_g_cm3, MappingProxyType(fractions))


_T = ReferenceTissue.from_percent

# fmt: off
#: Water (H2O, 1.000 g/cm³).
WATER = _T("water", "soft_tissue", 1.000, {1: 11.19, 8: 88.81})
#: Dry air near sea level (ICRU 37): C, N, O, Ar.
AIR = _T("air", "air", 0.001205, {6: 0.0124, 7: 75.5268, 8: 23.1781, 18: 1.2827})

#: Woodard & White (1986) adult tissues, Z → mass %: H 1, C 6, N 7, O 8, Na 11,
#: Mg 12, P 15, S 16, Cl 17, K 19, Ca 20, Fe 26, I 53.
REFERENCE_TISSUES: tuple[ReferenceTissue, ...] = (
    AIR,
    _T("lung (inflated)", "lung", 0.26,
       {1: 10.3, 6: 10.5, 7: 3.1, 8: 74.9, 11: 0.2, 15: 0.2, 16: 0.3, 17: 0.3, 19: 0.2}),
    _T("adipose tissue 3", "adipose", 0.93,
       {1: 11.6, 6: 68.1, 7: 0.2, 8: 19.8, 11: 0.1, 16: 0.1, 17: 0.1}),
    _T("adipose tissue 2", "adipose", 0.95,
       {1: 11.4, 6: 59.8, 7: 0.7, 8: 27.8, 11: 0.1, 16: 0.1, 17: 0.1}),
    _T("adipose tissue 1", "adipose", 0.97,
       {1: 11.2, 6: 51.7, 7: 1.3, 8: 35.5, 11: 0.1, 16: 0.1, 17: 0.1}),
    _T("yellow marrow", "adipose", 0.98,
       {1: 11.5, 6: 64.4, 7: 0.7, 8: 23.1, 11: 0.1, 16: 0.1, 17: 0.1}),
    _T("mammary gland 2", "adipose", 1.02,
       {1: 10.6, 6: 33.2, 7: 3.0, 8: 52.7, 11: 0.1, 15: 0.1, 16: 0.2, 17: 0.1}),
    _T("red marrow", "soft_tissue", 1.03,
       {1: 10.5, 6: 41.4, 7: 3.4, 8: 43.9, 15: 0.1, 16: 0.2, 17: 0.2, 19: 0.2, 26: 0.1}),
    _T("brain", "soft_tissue", 1.04,
       {1: 10.7, 6: 14.5, 7: 2.2, 8: 71.2, 11: 0.2, 15: 0.4, 16: 0.2, 17: 0.3, 19: 0.3}),
    _T("muscle (skeletal) 2", "soft_tissue", 1.05,
       {1: 10.2, 6: 14.3, 7: 3.4, 8: 71.0, 11: 0.1, 15: 0.2, 16: 0.3, 17: 0.1, 19: 0.4}),
    _T("kidney 2", "soft_tissue", 1.05,
       {1: 10.3, 6: 13.2, 7: 3.0, 8: 72.4, 11: 0.2, 15: 0.2, 16: 0.2, 17: 0.2, 19: 0.2,
        20: 0.1}),
    _T("thyroid", "soft_tissue", 1.05,
       {1: 10.4, 6: 11.9, 7: 2.4, 8: 74.5, 11: 0.2, 15: 0.1, 16: 0.1, 17: 0.2, 19: 0.1,
        53: 0.1}),
    _T("heart 2", "soft_tissue", 1.06,
       {1: 10.3, 6: 12.1, 7: 3.2, 8: 73.4, 11: 0.1, 15: 0.1, 16: 0.2, 17: 0.3, 19: 0.2,
        26: 0.1}),
    _T("blood (whole)", "soft_tissue", 1.06,
       {1: 10.2, 6: 11.0, 7: 3.3, 8: 74.5, 11: 0.1, 15: 0.1, 16: 0.2, 17: 0.3, 19: 0.2,
        26: 0.1}),
    _T("liver 2", "soft_tissue", 1.06,
       {1: 10.2, 6: 13.9, 7: 3.0, 8: 71.6, 11: 0.2, 15: 0.3, 16: 0.3, 17: 0.2, 19: 0.3}),
    _T("eye lens", "soft_tissue", 1.07,
       {1: 9.6, 6: 19.5, 7: 5.7, 8: 64.6, 11: 0.1, 15: 0.1, 16: 0.3, 17: 0.1}),
    _T("skin 2", "soft_tissue", 1.09,
       {1: 10.0, 6: 20.4, 7: 4.2, 8: 64.5, 11: 0.2, 15: 0.1, 16: 0.2, 17: 0.3, 19: 0.1}),
    _T("cartilage", "soft_tissue", 1.10,
       {1: 9.6, 6: 9.9, 7: 2.2, 8: 74.4, 11: 0.5, 15: 2.2, 16: 0.9, 17: 0.3}),
    _T("spongiosa", "bone", 1.18,
       {1: 8.5, 6: 40.4, 7: 2.8, 8: 36.7, 11: 0.1, 12: 0.1, 15: 3.4, 16: 0.2, 17: 0.2,
        19: 0.1, 20: 7.4, 26: 0.1}),
    _T("sternum", "bone", 1.25,
       {1: 7.8, 6: 31.6, 7: 3.7, 8: 43.8, 11: 0.1, 15: 4.0, 16: 0.2, 17: 0.1, 19: 0.1,
        20: 8.5, 26: 0.1}),
    _T("vertebral column (D6, L3)", "bone", 1.33,
       {1: 7.0, 6: 28.7, 7: 3.8, 8: 43.7, 11: 0.1, 15: 5.1, 16: 0.2, 17: 0.1, 19: 0.1,
        20: 11.1, 26: 0.1}),
    _T("ribs (2nd, 6th)", "bone", 1.41,
       {1: 6.4, 6: 26.3, 7: 3.9, 8: 43.6, 11: 0.1, 12: 0.1, 15: 6.0, 16: 0.3, 17: 0.1,
        19: 0.1, 20: 13.1}),
    _T("humerus (whole specimen)", "bone", 1.46,
       {1: 6.0, 6: 31.4, 7: 3.1, 8: 36.9, 11: 0.1, 12: 0.1, 15: 7.0, 16: 0.2, 20: 15.2}),
    _T("cranium", "bone", 1.61,
       {1: 5.0, 6: 21.2, 7: 4.0, 8: 43.5, 11: 0.1, 12: 0.2, 15: 8.1, 16: 0.3, 20: 17.6}),
    _T("mandible", "bone", 1.68,
       {1: 4.6, 6: 19.9, 7: 4.1, 8: 43.5, 11: 0.1, 12: 0.2, 15: 8.6, 16: 0.3, 20: 18.7}),
    _T("cortical bone", "bone", 1.92,
       {1: 3.4, 6: 15.5, 7: 4.2, 8: 43.5, 11: 0.1, 12: 0.2, 15: 10.3, 16: 0.3, 20: 22.5}),
)
# fmt: on
