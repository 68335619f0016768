"""The viewer's embedded data (without a browser): exact volumes, thinning, DVH bands,
fitted scales, and the clean settings table."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import zlib

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.patient import Grid, Patient
from ionbeam.report import PlanResult, ReportOptions, render_report
from ionbeam.report._sections import settings_table
from ionbeam.report._viewer import viewer_data, viewer_grid
from ionbeam.report._volume_codec import decode_uint16, encode_uint16, quantize
from ionbeam.report.dvh_plots import fitted_dose_axis_gy, structure_dvhs
from ionbeam.report.slices import let_colour_range

QUICK = ReportOptions(dpi=30, spot_maps=False, bragg_curves=False)


def test_uint16_codes_round_trip_within_half_a_step() -> None:
    """Quantized to uint16 with a scale, a dose comes back within half a step
    (max / 65535 / 2), and exactly zero stays zero."""
    rng = np.random.default_rng(3)
    dose = rng.uniform(0.0, 73.4, (7, 5, 9)).astype(np.float32)
    dose[0, 0, 0] = 0.0
    codes, scale = quantize(dose)
    back = decode_uint16(encode_uint16(codes), dose.size).reshape(dose.shape) * scale
    assert scale == pytest.approx(73.4 / 65535, rel=1e-3)
    assert np.max(np.abs(back - dose)) <= 0.5 * scale * 1.0001
    assert back[0, 0, 0] == 0.0


def test_viewer_grid_thins_a_large_ct_to_the_voxel_budget() -> None:
    """A 512 × 512 × 300 CT is shown every 2nd voxel in-plane (at most 320 pixels) when
    that fits the voxel budget, and coarser on every axis when not (the default 8 M);
    the grid keeps the first voxel's centre."""
    ct = Grid((512, 512, 300), (0.98, 0.98, 2.0), (-250.0, -250.0, -300.0))
    grid, strides = viewer_grid(ct, ReportOptions(viewer_max_voxels=20_000_000))
    assert strides == (2, 2, 1) and grid.shape == (256, 256, 300)
    assert grid.spacing_mm == pytest.approx((1.96, 1.96, 2.0))
    small, strides = viewer_grid(ct, ReportOptions())
    assert strides == (3, 3, 2) and small.shape == (171, 171, 150)
    assert np.prod(small.shape) <= 8_000_000
    assert small.origin_mm == pytest.approx(ct.origin_mm)


def _decoded(item: dict, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    return decode_uint16(item["data"], size).reshape(shape) * item["scale"]


def test_viewer_data_holds_each_quantity_exactly(
    patient: Patient, dose_grid: Grid, result: PlanResult
) -> None:
    """Dose, physical dose and beam doses decode to the result's arrays (within the
    uint16 step); the CT is the HU window in grey levels; masks are the structures."""
    physical = result.dose_gy / 1.1
    full = dataclasses.replace(
        result, physical_dose_gy=physical, beam_doses_gy={"B1": 0.7 * physical}
    )
    data = viewer_data(patient, [full], QUICK)
    plan = data["plans"][0]
    names = [q["name"] for q in plan["quantities"]]
    assert names == ["RBE-weighted dose", "physical dose", "LET_d", "beam B1, physical dose"]
    for item, expected in zip(
        plan["quantities"], (full.dose_gy, physical, None, 0.7 * physical), strict=True
    ):
        if expected is not None:
            np.testing.assert_allclose(_decoded(item, dose_grid.shape), expected, atol=1e-3)
    ct = np.frombuffer(zlib.decompress(base64.b64decode(data["ct"]["data"])), dtype=np.uint8)
    low, high = QUICK.ct_window_hu
    expected_ct = np.rint(255 * np.clip((patient.ct.hu - low) / (high - low), 0, 1))
    np.testing.assert_array_equal(ct.reshape(patient.grid.shape), expected_ct)
    target = next(s for s in data["structures"] if s["name"] == "Target")
    mask = np.frombuffer(zlib.decompress(base64.b64decode(target["data"])), dtype=np.uint8)
    np.testing.assert_array_equal(
        mask.reshape(patient.grid.shape), patient.structures["Target"].mask
    )
    assert data["start_index"] == [22, 22, 22]  # the target's centre, on the 45³ CT
    json.dumps(data, allow_nan=False)  # JSON as it is embedded


def test_scenario_bands_enclose_the_nominal_dvh(
    patient: Patient, dose_grid: Grid, result: PlanResult
) -> None:
    """With scenario doses ±5 %, each structure's band runs from the −5 % curve to the
    +5 % curve and holds the nominal curve (the hook for robust plans)."""
    scenarios = (0.95 * result.dose_gy, 1.05 * result.dose_gy)
    robust = dataclasses.replace(result, scenario_doses_gy=scenarios)
    dvh = viewer_data(patient, [robust], QUICK)["plans"][0]["dvh"]
    assert viewer_data(patient, [result], QUICK)["plans"][0]["dvh"]["curves"][0].get("band") is None
    for curve in dvh["curves"]:
        low, high = (np.asarray(b) for b in curve["band"])
        nominal = np.asarray(curve["volume_percent"])
        assert np.all(low <= nominal + 1e-9) and np.all(nominal <= high + 1e-9)
        assert np.any(high - low > 1.0)  # the bands have width


def test_let_scale_is_fitted_to_the_let_inside_the_body(patient: Patient) -> None:
    """A few voxels of 280 keV/µm outside the body do not stretch the scale: it ends at
    the 99th percentile of the LET inside the body (a target's ~50 keV/µm readable)."""
    grid = patient.grid
    let = np.zeros(grid.shape)
    body = patient.structures["Body"].mask
    let[body] = np.linspace(20.0, 60.0, int(body.sum()))
    let[0, 0, :3] = 280.0  # outside the body (the corner of the CT)
    assert not body[0, 0, :3].any()
    low, high = let_colour_range(patient, let, grid)
    assert high == pytest.approx(np.percentile(let[body], 99.0))
    assert low == 20.0 and high < 60.0


def test_dvh_axis_ends_where_the_curves_do(
    patient: Patient, dose_grid: Grid, result: PlanResult
) -> None:
    """One hot voxel must not stretch the dose axis: it ends 8 % past the dose above
    which every structure has less than 0.1 % of its volume, and at least 15 % past the
    prescription."""
    dose = np.array(result.dose_gy)
    dose[5, 5, 5] = 10.0  # a hot voxel in the body, 5x the peak elsewhere
    dvhs = structure_dvhs(dose, dose_grid, patient, ["Body", "Target"])
    top = fitted_dose_axis_gy(dvhs, prescription_gy=2.0)
    assert top == pytest.approx(1.08 * 2.1, rel=0.03)
    assert fitted_dose_axis_gy(dvhs, prescription_gy=4.0) == pytest.approx(4.6)


def test_settings_read_as_a_person_writes_them() -> None:
    """No floating-point noise, no None, no raw dicts, booleans as yes/no."""
    html = settings_table(
        {
            "objectives": {"Brainstem": {"max_dose_gy": 3.9600000000000004}},
            "planning": {"beam_names": None, "structure_tissues": {}, "spot_limits": True},
            "tissues": [{"name": "tumour", "mkm": {"alpha0_gy": 0.23122000001}}],
            "timings_s": {"optimization_s": 11.996612},
        }
    )
    cells = dict(re.findall(r"<td>([^<]*)</td><td>([^<]*)</td>", html))
    assert cells == {
        "objectives.Brainstem.max_dose_gy": "3.96",
        "planning.beam_names": "—",
        "planning.structure_tissues": "—",
        "planning.spot_limits": "yes",
        "tissues": "name=tumour mkm=(alpha0_gy=0.23122)",
        "timings_s.optimization_s": "11.9966",
    }
    assert html.count('class="group-start"') == 3  # a rule above each top-level group but the first


def test_viewer_can_be_left_out_and_bad_inputs_are_refused(
    patient: Patient, result: PlanResult
) -> None:
    without = render_report(
        patient=patient, result=result, options=dataclasses.replace(QUICK, viewer=False)
    )
    assert "<script" not in without and "Interactive viewer" not in without
    with pytest.raises(ConfigError, match="isodose_percent"):
        ReportOptions(isodose_percent=(50.0, -1.0))
    with pytest.raises(ConfigError, match="beam_doses_gy has beam 'B9'"):
        dataclasses.replace(result, beam_doses_gy={"B9": result.dose_gy})
    physical = dataclasses.replace(result, dose_kind="physical")
    with pytest.raises(ConfigError, match="already physical"):
        dataclasses.replace(physical, physical_dose_gy=result.dose_gy)


def test_plan_settings_are_shown_once(patient: Patient, result: PlanResult) -> None:
    """Run settings equal to the plan's own settings are not shown a second time."""
    html = render_report(
        patient=patient, result=result, settings=dict(result.plan.settings), options=QUICK
    )
    assert "Plan settings" in html and "Run settings" not in html
    other = render_report(
        patient=patient, result=result, settings={"phantom": "water"}, options=QUICK
    )
    assert "Run settings" in other


def test_dvhs_made_once_for_the_report_give_the_same_viewer_data(
    patient: Patient, result: PlanResult
) -> None:
    """The report hands the viewer the DVHs of its DVH figure (made once): the viewer's
    data are then those it computes itself; a plan with scenarios, whose bins also reach
    its scenarios' doses, ignores them and gets its own (with its bands)."""
    names = list(result.metrics.names)
    top = 1.05 * float(result.dose_gy.max())
    shared = {result.label: structure_dvhs(result.dose_gy, result.dose_grid, patient, names,
                                           max_dose_gy=top)}  # fmt: skip
    assert viewer_data(patient, [result], QUICK, dvhs=shared) == viewer_data(
        patient, [result], QUICK
    )
    robust = dataclasses.replace(result, scenario_doses_gy=(1.2 * result.dose_gy,))
    own = viewer_data(patient, [robust], QUICK)
    assert viewer_data(patient, [robust], QUICK, dvhs=shared) == own
    assert own["plans"][0]["dvh"]["curves"][0]["band"]  # bins up to 1.2 × the dose
