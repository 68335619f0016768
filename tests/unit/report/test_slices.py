"""Dose, LET and dose-difference washes on three CT planes."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import AxesImage

from ionbeam.errors import GeometryError, GridMismatchError, OutOfRangeError, UnknownNameError
from ionbeam.patient import Grid, Patient
from ionbeam.report import (
    PlanResult,
    ReportOptions,
    dose_difference_figure,
    dose_slices_figure,
    let_slices_figure,
    slice_point_mm,
)

OPTIONS = ReportOptions(dose_threshold_fraction=0.1)


def _image_axes(figure):
    return [ax for ax in figure.axes if ax.get_images()]


def test_dose_figure_has_three_planes_with_ct_wash_and_colour_bar(
    patient: Patient, result: PlanResult
) -> None:
    figure = dose_slices_figure(
        patient,
        result.dose_gy,
        result.dose_grid,
        dose_unit="Gy(RBE)",
        plan=result.plan,
        options=OPTIONS,
    )
    planes = _image_axes(figure)
    assert [ax.get_title().split()[0] for ax in planes] == ["axial", "coronal", "sagittal"]
    colour_bars = [ax for ax in figure.axes if ax not in planes]
    assert len(colour_bars) == 1 and colour_bars[0].get_ylabel() == "dose (Gy(RBE))"
    for ax in planes:
        ct, wash = ax.get_images()
        assert ct.get_cmap().name == "gray"
        assert wash.get_clim() == pytest.approx((0.0, float(result.dose_gy.max())))
        assert ax.get_aspect() == 1.0  # axes in mm: the aspect follows the voxel spacing


def test_axial_plane_is_oriented_and_labelled(patient: Patient, result: PlanResult) -> None:
    figure = dose_slices_figure(patient, result.dose_gy, result.dose_grid, options=OPTIONS)
    axial, coronal, sagittal = _image_axes(figure)
    assert axial.yaxis_inverted() and not coronal.yaxis_inverted()
    letters = {ax: {t.get_text() for t in ax.texts} for ax in (axial, coronal, sagittal)}
    assert letters[axial] >= {"R", "L", "A", "P"}
    assert letters[coronal] >= {"R", "L", "S", "I"}
    assert letters[sagittal] >= {"A", "P", "S", "I"}
    assert (axial.get_xlabel(), axial.get_ylabel()) == ("x (mm)", "y (mm)")
    assert (sagittal.get_xlabel(), sagittal.get_ylabel()) == ("y (mm)", "z (mm)")


def test_wash_shows_the_dose_above_the_threshold_only(patient: Patient, dose_grid: Grid) -> None:
    # A dose that is 3 Gy in the target region and 0.1 Gy elsewhere, on the CT grid itself.
    dose = np.where(patient.structures["Target"].mask, 3.0, 0.1)
    figure = dose_slices_figure(patient, dose, patient.grid, options=OPTIONS)
    wash = _image_axes(figure)[0].get_images()[1].get_array()
    shown = ~np.ma.getmaskarray(wash)
    target_plane = patient.structures["Target"].mask[:, :, 22].T  # axial through the centre
    np.testing.assert_array_equal(shown, target_plane)
    np.testing.assert_allclose(wash.compressed(), 3.0)


def test_contours_are_drawn_for_structures_in_the_plane(
    patient: Patient, result: PlanResult
) -> None:
    figure = dose_slices_figure(patient, result.dose_gy, result.dose_grid, options=OPTIONS)
    for ax in _image_axes(figure):
        contour_colours = [tuple(c.get_edgecolor()[0][:3]) for c in ax.collections]
        assert len(contour_colours) == 2  # Body and Target cross all three planes
    legend_names = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend_names == ["Body", "Target"]


def test_beam_arrows_point_along_the_beam(patient: Patient, result: PlanResult) -> None:
    figure = dose_slices_figure(
        patient, result.dose_gy, result.dose_grid, plan=result.plan, options=OPTIONS
    )
    axial = _image_axes(figure)[0]
    arrows = [(np.array(a.xy), np.array(a.xyann)) for a in axial.texts if hasattr(a, "xyann")]
    assert len(arrows) == 2
    (tip_1, tail_1), (tip_2, tail_2) = arrows
    np.testing.assert_allclose([tip_1, tip_2], 0.0, atol=1e-9)  # both end at the isocentre
    # Gantry 0° (anterior field) travels +y, so it comes from −y; gantry 90° travels −x
    # (to the patient's right), so it comes from +x.
    assert tail_1[1] < 0 and tail_1[0] == pytest.approx(0.0, abs=1e-9)
    assert tail_2[0] > 0 and tail_2[1] == pytest.approx(0.0, abs=1e-9)


def test_let_is_shown_only_where_there_is_dose(patient: Patient, result: PlanResult) -> None:
    figure = let_slices_figure(
        patient,
        result.let_d_kev_um,
        result.dose_gy,
        result.dose_grid,
        options=ReportOptions(dose_threshold_fraction=0.5),
    )
    axial = _image_axes(figure)[0]
    wash = axial.get_images()[1].get_array()
    # LET = 2 + 3 (1 − D/Dmax): shown voxels have D ≥ Dmax/2, so LET ≤ 3.5 keV/µm (± interp.)
    assert wash.count() > 0 and float(wash.max()) <= 3.5 + 0.2
    assert np.ma.getmaskarray(wash).any()
    assert figure.axes[-1].get_ylabel() == "LET_d (keV/µm)"


def test_difference_is_a_minus_b_on_a_diverging_scale_centred_on_zero(
    patient: Patient, dose_grid: Grid, result: PlanResult
) -> None:
    dose_a = np.array(result.dose_gy, dtype=np.float64)
    dose_b = 0.9 * dose_a
    figure = dose_difference_figure(
        patient, dose_a, dose_b, dose_grid, labels=("C", "P"), options=OPTIONS
    )
    ax = _image_axes(figure)[0]
    wash: AxesImage = ax.get_images()[1]
    low, high = wash.get_clim()
    assert low == pytest.approx(-high) and high == pytest.approx(0.1 * dose_a.max(), rel=1e-5)
    assert wash.get_cmap().name == "RdBu_r"
    assert float(wash.get_array().min()) >= -1e-6  # A > B everywhere: only red
    assert "C − P" in figure.axes[-1].get_ylabel()


def test_point_defaults_to_target_centroid_and_may_be_given(patient: Patient) -> None:
    np.testing.assert_allclose(slice_point_mm(patient), patient.target.centroid_mm)
    options = ReportOptions(point_mm=(4.0, 8.0, -12.0))
    assert slice_point_mm(patient, options).tolist() == [4.0, 8.0, -12.0]


def test_bad_inputs_raise_clear_errors(patient: Patient, result: PlanResult) -> None:
    dose = np.array(result.dose_gy)
    with pytest.raises(GridMismatchError, match="resample"):
        dose_slices_figure(patient, dose[1:], result.dose_grid)
    dose[0, 0, 0] = np.inf
    with pytest.raises(OutOfRangeError, match="NaN or infinity"):
        dose_slices_figure(patient, dose, result.dose_grid)
    with pytest.raises(UnknownNameError, match="Body, Target"):
        dose_slices_figure(
            patient, result.dose_gy, result.dose_grid, options=ReportOptions(structures=("Tumour",))
        )
    with pytest.raises(GeometryError, match="outside the CT"):
        dose_slices_figure(
            patient,
            result.dose_gy,
            result.dose_grid,
            options=ReportOptions(point_mm=(0.0, 0.0, 900.0)),
        )
