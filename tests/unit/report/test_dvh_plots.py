"""DVH figures: one plan, and several plans on one axis."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.patient import Grid, Patient
from ionbeam.report import dvh_comparison_figure, dvh_figure, structure_dvhs


def _uniform_target_dose(patient: Patient, dose_gy: float) -> np.ndarray:
    """``dose_gy`` in the target, half of it elsewhere, on the CT grid."""
    return np.where(patient.structures["Target"].mask, dose_gy, 0.5 * dose_gy)


def test_uniform_dose_gives_a_step_at_that_dose(patient: Patient) -> None:
    dose = _uniform_target_dose(patient, 2.0)
    dvhs = structure_dvhs(dose, patient.grid, patient, ["Target"])
    figure = dvh_figure(dvhs, prescription_gy=2.0)
    ax = figure.axes[0]
    curve = ax.get_lines()[0]
    x, y = curve.get_xdata(), curve.get_ydata()
    width = x[1] - x[0]
    np.testing.assert_allclose(y[x <= 2.0], 100.0)
    np.testing.assert_allclose(y[x > 2.0 + width], 0.0)
    assert x.max() > 2.0  # the axis goes beyond the dose so the step is visible
    prescription = ax.get_lines()[1]
    assert list(prescription.get_xdata()) == [2.0, 2.0]
    assert ax.get_xlabel() == "dose (Gy)" and ax.get_ylabel() == "volume (%)"


def test_structures_get_their_own_colours_and_the_legend_names_them(patient: Patient) -> None:
    dose = _uniform_target_dose(patient, 2.0)
    dvhs = structure_dvhs(dose, patient.grid, patient, ["Body", "Target"])
    figure = dvh_figure(dvhs, colours={"Body": "#111111", "Target": "#ff0000"}, dose_unit="Gy(RBE)")
    lines = figure.axes[0].get_lines()
    assert [line.get_color() for line in lines] == ["#111111", "#ff0000"]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["Body", "Target"]
    # The body holds the target: half its volume at ≥ 1 Gy means all of it.
    np.testing.assert_allclose(lines[0].get_ydata()[0], 100.0)


def test_comparison_draws_plans_solid_and_dashed_in_structure_colours(patient: Patient) -> None:
    dvhs = {
        label: structure_dvhs(
            _uniform_target_dose(patient, d),
            patient.grid,
            patient,
            ["Body", "Target"],
            max_dose_gy=4.0,
        )
        for label, d in (("protons", 2.0), ("carbon", 3.0))
    }
    figure = dvh_comparison_figure(dvhs, prescription_gy=2.0, dose_unit="Gy(RBE)")
    lines = figure.axes[0].get_lines()[:4]
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--", "--"]
    assert lines[0].get_color() == lines[2].get_color() != lines[1].get_color()
    carbon_target = lines[3]
    x, y = carbon_target.get_xdata(), carbon_target.get_ydata()
    assert y[x <= 3.0].min() == pytest.approx(100.0) and y[x > 3.01].max() == 0.0
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == ["Body", "Target", "protons", "carbon", "prescription 2 Gy(RBE)"]


def test_bad_inputs_raise(patient: Patient, dose_grid: Grid) -> None:
    dose = np.ones(dose_grid.shape)
    with pytest.raises(UnknownNameError, match="choose one of: Body, Target"):
        structure_dvhs(dose, dose_grid, patient, ["PTV"])
    with pytest.raises(GridMismatchError):
        structure_dvhs(dose, patient.grid, patient, ["Target"])
    with pytest.raises(ConfigError, match="at least one"):
        dvh_comparison_figure({})
    dvhs = structure_dvhs(dose, dose_grid, patient, ["Target"])
    with pytest.raises(ConfigError, match="at most 4 plans"):
        dvh_comparison_figure({str(k): dvhs for k in range(5)})
