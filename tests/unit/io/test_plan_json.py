"""plan.json: round trip of a plan, and clear errors for malformed files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.io.plan_json import plan_to_dict, read_plan_json, write_plan_json
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap


def _plan() -> Plan:
    spots = SpotMap([200.0, 200.0, 180.0], [0.0, 5.0, -2.5], [1.0, 1.0, 3.0], [1e7, 2e7, 3.5e6])
    beams = (
        Beam("B1", BeamGeometry(90.0, 10.0, (1.0, 2.0, 3.0), (6200.0, 5700.0)), spots),
        Beam("B2", BeamGeometry(270.0), spots, range_shifter_wet_mm=30.0, ripple_filter=True),
    )
    return Plan("carbon", beams, Prescription("PTV", 60.0, 20), rbe_model="mkm",
                settings={"dose_grid_mm": 2.5, "patient": {"phantom": "head"}})  # fmt: skip


def test_round_trip(tmp_path: Path) -> None:
    plan = _plan()
    path = write_plan_json(plan, tmp_path / "plan.json")
    back = read_plan_json(tmp_path)
    assert back.particle == "carbon" and back.rbe_model == "mkm"
    assert back.prescription == plan.prescription
    assert back.settings == {"dose_grid_mm": 2.5, "patient": {"phantom": "head"}}
    for a, b in zip(plan.beams, back.beams, strict=True):
        assert a.name == b.name and a.geometry == b.geometry
        assert a.range_shifter_wet_mm == b.range_shifter_wet_mm
        assert a.ripple_filter == b.ripple_filter
        for field in ("energy_mev_u", "x_mm", "y_mm", "weight"):
            np.testing.assert_array_equal(getattr(a.spots, field), getattr(b.spots, field))
    assert math.isinf(back.beams[1].geometry.sad_mm[0])
    assert json.loads(path.read_text())["beams"][1]["sad_mm"] == [None, None]


def test_layers_in_delivery_order() -> None:
    layers = plan_to_dict(_plan())["beams"][0]["layers"]
    assert [layer["energy_mev_u"] for layer in layers] == [200.0, 180.0]
    assert layers[0]["weight"] == [1e7, 2e7]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown key"),
        (lambda d: d["beams"][0].update(gantry=1.0), "unknown key"),
        (lambda d: d["beams"][0]["layers"][0].pop("weight"), "missing key"),
        (lambda d: d.update(format_version=99), "not supported"),
        (lambda d: d["prescription"].update(total_dose_gy=0.0), "must be > 0"),
        (lambda d: d["beams"][0]["layers"][0]["x_mm"].append(1.0), "differ in length"),
    ],
)
def test_malformed_plans_refused(tmp_path: Path, edit, message: str) -> None:
    data = plan_to_dict(_plan())
    edit(data)
    (tmp_path / "plan.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        read_plan_json(tmp_path / "plan.json")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no plan file"):
        read_plan_json(tmp_path)
    (tmp_path / "plan.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        read_plan_json(tmp_path)
