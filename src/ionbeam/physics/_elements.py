# ruff: noqa: E501  (one element per line keeps the data table readable)
"""Elemental data used by the stopping-power model.

For each supported element: atomic number, symbol, standard atomic weight
(IUPAC, abridged), the mean excitation energy of the element (ICRU 37 / ICRU 49,
as used by NIST ESTAR/PSTAR), and the 8 coefficients of the Ziegler–Biersack–
Littmark (1985) fit to the electronic stopping of protons in the element
(J. F. Ziegler, J. P. Biersack, U. Littmark, *The Stopping and Range of Ions
in Solids*, Pergamon 1985), used below ~1 MeV where the Bethe theory fails.

The elements cover the body tissues of ICRU 44/46 and Woodard & White (1986),
the usual range-shifter and phantom materials, implants (Ti, W, Au) and
contrast agent (I).
"""

from __future__ import annotations

from dataclasses import dataclass

from ionbeam.errors import UnknownNameError

__all__ = ["ELEMENTS", "Element", "get_element"]


@dataclass(frozen=True)
class Element:
    """One chemical element (see module docstring for the sources)."""

    z: int
    symbol: str
    atomic_weight: float
    i_value_ev: float
    zbl_proton: tuple[float, float, float, float, float, float, float, float]

    @property
    def i_value_in_compound_ev(self) -> float:
        """I-value of the element bound in a condensed compound (ICRU 37, Table 2.11:
        H 19.2, C 81, N 82, O 106, F 112, Cl 180 eV; other elements 1.13 × elemental),
        used for Bragg additivity."""
        return _COMPOUND_I_EV.get(self.z, 1.13 * self.i_value_ev)


_COMPOUND_I_EV = {1: 19.2, 6: 81.0, 7: 82.0, 8: 106.0, 9: 112.0, 17: 180.0}

# fmt: off
_TABLE: tuple[tuple[int, str, float, float, tuple[float, ...]], ...] = (
    (1, "H", 1.008, 19.2, (0.0091827, 0.0053496, 0.69741, 0.48493, 316.07, 1.0143, 9329.3, 0.053989)),
    (2, "He", 4.002602, 41.8, (0.11393, 0.0051984, 1.0822, 0.39252, 1081.0, 1.0645, 4068.5, 0.017699)),
    (3, "Li", 6.94, 40.0, (0.85837, 0.0050147, 1.6044, 0.38844, 1337.3, 1.047, 2659.2, 0.01898)),
    (4, "Be", 9.0121831, 63.7, (0.8781, 0.0051049, 5.4232, 0.2032, 1200.6, 1.0211, 1401.8, 0.038529)),
    (5, "B", 10.81, 76.0, (1.4608, 0.0048836, 2.338, 0.44249, 1801.3, 1.0352, 1784.1, 0.02024)),
    (6, "C", 12.011, 78.0, (3.2579, 0.0049148, 2.7156, 0.36473, 2092.2, 1.0291, 2643.6, 0.018237)),
    (7, "N", 14.007, 82.0, (0.59674, 0.0050837, 4.2073, 0.30612, 2394.2, 1.0255, 4892.1, 0.016006)),
    (8, "O", 15.999, 95.0, (0.75253, 0.0050314, 4.0824, 0.30067, 2455.8, 1.0181, 5069.7, 0.017426)),
    (9, "F", 18.998403163, 115.0, (1.226, 0.0051385, 3.2246, 0.32703, 2525.0, 1.0142, 7563.6, 0.019469)),
    (10, "Ne", 20.1797, 137.0, (1.0332, 0.0051645, 3.004, 0.33889, 2338.6, 0.99997, 6991.2, 0.021799)),
    (11, "Na", 22.98976928, 149.0, (6.0972, 0.0044292, 3.1929, 0.45763, 1363.3, 0.95182, 2380.6, 0.081835)),
    (12, "Mg", 24.305, 156.0, (14.013, 0.0043646, 2.2641, 0.36326, 2187.4, 0.99098, 6264.8, 0.0462)),
    (13, "Al", 26.9815385, 166.0, (0.039001, 0.0045415, 5.5463, 0.39562, 1589.2, 0.95316, 816.16, 0.047484)),
    (14, "Si", 28.085, 173.0, (2.072, 0.0044516, 3.5585, 0.53933, 1515.2, 0.93161, 1790.3, 0.035198)),
    (15, "P", 30.973761998, 173.0, (17.575, 0.0038346, 0.078694, 1.2388, 2806.0, 0.97284, 1037.6, 0.012879)),
    (16, "S", 32.06, 180.0, (16.126, 0.0038315, 0.054164, 1.3104, 2813.3, 0.96587, 1251.4, 0.011847)),
    (17, "Cl", 35.45, 174.0, (3.217, 0.0044579, 3.6696, 0.5091, 2734.6, 0.96253, 2187.5, 0.016907)),
    (18, "Ar", 39.948, 188.0, (2.0379, 0.0044775, 3.0743, 0.54773, 3505.0, 0.97575, 1714.0, 0.011701)),
    (19, "K", 39.0983, 190.0, (0.74171, 0.0043051, 1.1515, 0.95083, 917.21, 0.8782, 389.93, 0.18926)),
    (20, "Ca", 40.078, 191.0, (9.1316, 0.0043809, 5.4611, 0.31327, 3891.8, 0.97933, 6267.9, 0.015196)),
    (21, "Sc", 44.955908, 216.0, (7.2247, 0.0043718, 6.1017, 0.37511, 2829.2, 0.95218, 6376.1, 0.020398)),
    (22, "Ti", 47.867, 233.0, (0.147, 0.0048456, 6.3485, 0.41057, 2164.1, 0.94028, 5292.6, 0.050263)),
    (23, "V", 50.9415, 245.0, (5.0611, 0.0039867, 2.6174, 0.57957, 2218.9, 0.92361, 6323.0, 0.025669)),
    (24, "Cr", 51.9961, 257.0, (0.53267, 0.0042968, 0.39005, 1.2725, 1872.7, 0.90776, 64.166, 0.030107)),
    (25, "Mn", 54.938044, 272.0, (0.47697, 0.0043038, 0.31452, 1.3289, 1920.5, 0.90649, 45.576, 0.027469)),
    (26, "Fe", 55.845, 286.0, (0.027426, 0.0035443, 0.031563, 2.1755, 1919.5, 0.90099, 23.902, 0.025363)),
    (27, "Co", 58.933194, 297.0, (0.16383, 0.0043042, 0.073454, 1.8592, 1918.4, 0.89678, 27.61, 0.023184)),
    (28, "Ni", 58.6934, 311.0, (4.2562, 0.0043737, 1.5606, 0.72067, 1546.8, 0.87958, 302.02, 0.040944)),
    (29, "Cu", 63.546, 322.0, (2.3508, 0.0043237, 2.882, 0.50113, 1837.7, 0.89992, 2377.0, 0.04965)),
    (30, "Zn", 65.38, 330.0, (3.1095, 0.0038455, 0.11477, 1.5037, 2184.7, 0.89309, 67.306, 0.016588)),
    (53, "I", 126.90447, 491.0, (4.2132, 0.0042098, 4.6753, 0.57945, 3503.9, 0.89261, 1468.9, 0.014359)),
    (74, "W", 183.84, 727.0, (2.7101, 0.0040961, 1.2289, 0.98598, 1232.4, 0.79066, 155.42, 0.047294)),
    (79, "Au", 196.966569, 790.0, (2.0035, 0.0040431, 7.4882, 0.3561, 4464.3, 0.88836, 3966.5, 0.012839)),
    (82, "Pb", 207.2, 823.0, (7.1896, 0.0040588, 8.6927, 0.35842, 4760.6, 0.88833, 2888.3, 0.011029)),
)
# fmt: on

#: Supported elements by atomic number.
ELEMENTS: dict[int, Element] = {
    z: Element(z, symbol, weight, i_ev, tuple(coefficients))  # type: ignore[arg-type]
    for z, symbol, weight, i_ev, coefficients in _TABLE
}


def get_element(z: int) -> Element:
    """The element with atomic number ``z``; unknown numbers raise ``UnknownNameError``."""
    try:
        return ELEMENTS[int(z)]
    except (KeyError, TypeError, ValueError):
        known = [f"{e.z} ({e.symbol})" for e in ELEMENTS.values()]
        raise UnknownNameError("element (atomic number)", z, known) from None
