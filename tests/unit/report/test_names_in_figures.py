"""Structure and beam names are text, never matplotlib mathtext: a name with ``$``
(from a foreign RTSTRUCT) renders as written instead of failing after the whole plan."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.text import Text

from ionbeam.patient import Patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.patient.structures import Structure, StructureSet
from ionbeam.report import dvh_figure, structure_dvhs
from ionbeam.report._style import figure_png


@pytest.mark.parametrize("name", ["Lens $L_$", "a$^$b", "CTV $\\x$", "PTV $low$ dose"])
def test_names_with_dollars_render_as_written(name: str) -> None:
    water = make_phantom("water", spacing_mm=10.0)
    structures = StructureSet(
        [
            Structure("Body", water.structures["Body"].mask, water.grid),
            Structure(name, water.structures["Target"].mask, water.grid),
        ]
    )
    patient = Patient("dollar", water.ct, structures, name)
    dose = np.where(structures[name].mask, 2.0, 1.0)
    figure = dvh_figure(structure_dvhs(dose, water.grid, patient, ["Body", name]),
                        prescription_gy=2.0)  # fmt: skip
    png = figure_png(figure, dpi=40)
    assert png.startswith(b"\x89PNG")
    texts = [t for t in figure.findobj(Text) if t.get_text() == name]
    assert texts and not any(t.get_parse_math() for t in texts)
