"""Registries: names → implementations shared by the planner, the CLI, the plan file and
plan.json; unknown names raise UnknownNameError listing the known ones."""

from __future__ import annotations

import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.io.plan_file import objective_types, plan_request_from_dict
from ionbeam.machine import MACHINES, Machine, get_machine
from ionbeam.physics.particles import get_particle
from ionbeam.physics.radiobiology.proton_rbe import PROTON_RBE_MODELS
from ionbeam.physics.radiobiology.registry import RBE_MODELS, rbe_models_for
from ionbeam.planning.dose_engine import calc_dose_influence
from ionbeam.planning.engines import DEFAULT_FINE_SAMPLING, DOSE_ENGINES
from ionbeam.planning.optimize import (
    MaxDVH,
    MeanDose,
    MinDVH,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
)
from ionbeam.planning.optimize.registry import OBJECTIVES
from ionbeam.planning.planner import PlanningOptions, resolve_rbe_model
from ionbeam.registry import Registry


def test_lookup_ignores_case_and_blanks_and_follows_aliases() -> None:
    table = Registry("colour", {"Red": 1, "green": 2}, aliases={"rouge": "red"})
    assert table["  RED "] == 1
    assert table["rouge"] == 1
    assert table.canonical("Rouge") == "red"
    assert table.names == ("red", "green")
    assert "GREEN" in table and "blue" not in table
    assert dict(table.items()) == {"red": 1, "green": 2}


def test_unknown_name_lists_the_known_ones() -> None:
    table = Registry("colour", {"red": 1, "green": 2})
    with pytest.raises(UnknownNameError, match=r"unknown colour 'blue'; choose one of: green, red"):
        table["blue"]
    with pytest.raises(LookupError):  # UnknownNameError is also a LookupError
        table.canonical("")


def test_registries_are_immutable_and_extend_into_new_ones() -> None:
    table = Registry("colour", {"red": 1})
    wider = table.with_entries({"blue": 3})
    assert wider["blue"] == 3 and "blue" not in table
    with pytest.raises(TypeError):
        table._entries["blue"] = 3  # type: ignore[index]
    with pytest.raises(ValueError, match="distinct"):
        Registry("colour", {"red": 1, "RED": 2})
    with pytest.raises(ValueError, match="unregistered"):
        Registry("colour", {"red": 1}, aliases={"bleu": "blue"})


def test_machines_by_name() -> None:
    assert MACHINES.names == ("cnao", "pimms", "medaustron")
    machine = get_machine(" CNAO ")
    assert isinstance(machine, Machine) and machine.name == "cnao"
    with pytest.raises(UnknownNameError, match="cnao, medaustron, pimms"):
        get_machine("hit")


def test_rbe_models_hold_for_their_particles_only() -> None:
    proton, carbon = get_particle("proton"), get_particle("carbon")
    assert set(rbe_models_for(proton)) == {"none", *PROTON_RBE_MODELS}
    assert set(rbe_models_for(carbon)) == {"none", "mkm"}
    assert RBE_MODELS["mcnamara2015"].proton_model is PROTON_RBE_MODELS["mcnamara2015"]
    assert resolve_rbe_model("carbon", "MKM") == "mkm"
    with pytest.raises(UnknownNameError, match="mkm, none"):
        resolve_rbe_model("carbon", "mcnamara2015")
    with pytest.raises(UnknownNameError, match="carabe2012"):
        resolve_rbe_model("proton", "mkm")
    with pytest.raises(ConfigError, match="constant RBE"):
        resolve_rbe_model("carbon", "constant")


@pytest.mark.parametrize(
    ("name", "cls", "target_weight", "organ_weight"),
    [
        ("squared_deviation", SquaredDeviation, 1000.0, 300.0),
        ("max_dose", SquaredOverdose, 3000.0, 3000.0),
        ("squared_overdose", SquaredOverdose, 1000.0, 300.0),
        ("min_dose", SquaredUnderdose, 1000.0, 300.0),
        ("squared_underdose", SquaredUnderdose, 1000.0, 300.0),
        ("mean_dose", MeanDose, 1000.0, 300.0),
    ],
)
def test_objective_types_build_their_class_with_the_default_weights(
    name: str, cls: type, target_weight: float, organ_weight: float
) -> None:
    """The weights the CLI used before the registry: target 1000, elsewhere 300,
    a maximum dose 3000 everywhere; a weight given wins."""
    entry = OBJECTIVES[name]
    assert entry.objective_class is cls
    on_target = entry.make(2.0, on_target=True)
    elsewhere = entry.make(2.0)
    assert isinstance(on_target, cls) and isinstance(elsewhere, cls)
    assert (on_target.weight, elsewhere.weight) == (target_weight, organ_weight)
    assert entry.make(2.0, weight=7.0).weight == 7.0
    with pytest.raises(ConfigError, match="takes no volume"):
        entry.make(2.0, volume_fraction=0.5)


def test_dvh_objectives_need_a_volume() -> None:
    min_dvh = OBJECTIVES["min_dvh"].make(2.0, volume_fraction=0.95, on_target=True)
    max_dvh = OBJECTIVES["max_dvh"].make(1.0, volume_fraction=0.2)
    assert isinstance(min_dvh, MinDVH) and min_dvh.min_volume_fraction == 0.95
    assert isinstance(max_dvh, MaxDVH) and max_dvh.max_volume_fraction == 0.2
    with pytest.raises(ConfigError, match="needs a volume"):
        OBJECTIVES["max_dvh"].make(1.0)


def test_plan_file_objective_types_come_from_the_registry() -> None:
    assert list(objective_types()) == list(OBJECTIVES.names)
    assert objective_types()["min_dvh"] == ("total_dose_gy", "volume_percent")
    objective = {"structure": "Brain", "type": "max_dose", "total_dose_gy": 50.0}
    with pytest.raises(ConfigError, match="takes no volume_percent"):
        plan_request_from_dict({"objectives": [objective | {"volume_percent": 10.0}]})


def test_dose_engines() -> None:
    assert DOSE_ENGINES.names == ("pencil_beam", "fine_sampling")
    assert DOSE_ENGINES["pencil_beam"].influence is calc_dose_influence
    assert PlanningOptions().dose_engine == "pencil_beam"
    assert PlanningOptions(fine_sampling=4).dose_engine == "fine_sampling"
    chosen = PlanningOptions(dose_engine="Fine_Sampling")
    assert (chosen.dose_engine, chosen.fine_sampling) == ("fine_sampling", DEFAULT_FINE_SAMPLING)
    with pytest.raises(ConfigError, match="no sub-beams"):
        PlanningOptions(dose_engine="pencil_beam", fine_sampling=3)
    with pytest.raises(UnknownNameError, match="fine_sampling, pencil_beam"):
        PlanningOptions(dose_engine="monte_carlo")


def test_plan_file_dose_engine_is_read_and_checked() -> None:
    request = plan_request_from_dict({"plan": {"dose_engine": "FINE_SAMPLING"}})
    assert request.dose_engine == "fine_sampling"
    with pytest.raises(UnknownNameError, match="pencil_beam"):
        plan_request_from_dict({"plan": {"dose_engine": "gpu"}})
