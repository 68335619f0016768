"""Bragg curves of a plan's energies and spot maps of its layers."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2, BeamModel
from ionbeam.physics.depth_dose import depth_dose
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap
from ionbeam.report import bragg_curves_figure, spot_maps_figure
from ionbeam.report.beam_plots import evenly_spaced, plan_energies


def test_evenly_spaced_keeps_first_and_last() -> None:
    assert evenly_spaced(3, 8).tolist() == [0, 1, 2]
    chosen = evenly_spaced(30, 5)
    assert chosen.tolist() == [0, 7, 14, 22, 29]


def test_plan_energies_are_distinct_and_highest_first(plan_factory) -> None:
    plan = plan_factory(energies=(80.0, 120.0, 100.0))
    assert plan_energies(plan).tolist() == [120.0, 100.0, 80.0]


def _fake_beam_model(energies: list[float], peaks_mm: list[float]) -> BeamModel:
    """A beam model whose IDD per energy is a Gaussian peak at ``peaks_mm`` (only the
    fields the figure reads are meaningful)."""
    n = len(energies)
    depth = np.arange(200) * 1.0
    idd = np.stack([np.exp(-0.5 * ((depth - p) / 3.0) ** 2) for p in peaks_mm])
    arrays = {
        name: np.zeros(n)
        for name in (
            "max_depth_mm",
            "r80_mm",
            "sigma0_mm2",
            "sigma1_mm2_per_mm",
            "sigma2_mm2_per_mm2",
        )
    }
    tables = {
        name: np.zeros_like(idd)
        for name in ("sigma_mcs_mm2", "halo_weight", "halo_sigma_mm2", "let_d_kev_um")
    }
    return BeamModel(
        particle="proton",
        beam_line=None,
        energies_mev_u=np.array(energies),
        depth_step_mm=np.ones(n),
        bragg_peak_mm=np.array(peaks_mm),
        idd_gy_mm2=idd * MEV_PER_MM_TO_GY_MM2,
        **arrays,
        **tables,
    )


def test_bragg_curves_come_from_the_beam_model(plan_factory) -> None:
    plan = plan_factory(energies=(80.0, 100.0, 120.0))
    model = _fake_beam_model([80.0, 100.0, 120.0, 140.0], [50.0, 75.0, 100.0, 130.0])
    figure = bragg_curves_figure(plan, beam_model=model)
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["80.0 MeV/u", "100.0 MeV/u", "120.0 MeV/u"]
    for line, peak in zip(lines, (50.0, 75.0, 100.0), strict=True):
        x, y = line.get_xdata(), line.get_ydata()
        assert x[np.argmax(y)] == pytest.approx(peak)
        assert y.max() == pytest.approx(1.0, rel=1e-6)  # Gy·mm² back to MeV/mm
    assert figure.axes[0].get_xlim()[1] == pytest.approx(1.25 * 100.0)
    assert "beam model" in figure.axes[0].get_title()


def test_bragg_curves_without_a_model_use_the_physics(plan_factory) -> None:
    plan = plan_factory(energies=(70.0, 100.0))
    figure = bragg_curves_figure(plan)
    lines = figure.axes[0].get_lines()
    reference = depth_dose("proton", 100.0)
    x, y = lines[1].get_xdata(), lines[1].get_ydata()
    np.testing.assert_allclose(y, reference.idd_mev_mm)
    assert x[np.argmax(y)] == pytest.approx(reference.bragg_peak_mm, abs=1.0)


def test_bragg_curves_select_energies_and_check_the_model(plan_factory) -> None:
    plan = plan_factory(energies=tuple(np.linspace(80.0, 120.0, 9)))
    model = _fake_beam_model(list(np.linspace(80.0, 120.0, 9)), list(np.linspace(50, 100, 9)))
    figure = bragg_curves_figure(plan, beam_model=model, max_curves=3)
    assert [line.get_label() for line in figure.axes[0].get_lines()] == [
        "80.0 MeV/u",
        "100.0 MeV/u",
        "120.0 MeV/u",
    ]
    assert "3 of 9 energies" in figure.axes[0].get_title()
    with pytest.raises(MachineLimitError, match="not in the beam model"):
        bragg_curves_figure(plan_factory(energies=(87.0,)), beam_model=model)
    with pytest.raises(ConfigError, match="beam model is for proton"):
        bragg_curves_figure(plan_factory("carbon"), beam_model=model)


def test_spot_maps_show_each_layer_coloured_by_weight(spot_map_factory) -> None:
    spots = spot_map_factory((120.0, 100.0, 80.0), n_per_layer=4)
    beam = Beam("B1", BeamGeometry(90.0), spots)
    figure = spot_maps_figure(beam)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 3
    assert panels[0].get_title().startswith("120.0 MeV/u: 3 spots")  # one spot has weight 0
    zero, used = panels[0].collections
    np.testing.assert_allclose(zero.get_offsets(), [[-12.0, -6.0]])
    np.testing.assert_allclose(used.get_offsets()[:, 0], [-4.0, 4.0, 12.0])
    np.testing.assert_allclose(used.get_array(), [1e6, 2e6, 3e6])
    assert used.norm.vmax == pytest.approx(3e6) and used.norm.vmin == 0.0
    assert "gantry 90°" in figure.get_suptitle()


def test_spot_maps_sample_layers_when_there_are_many(spot_map_factory) -> None:
    beam = Beam("B1", BeamGeometry(), spot_map_factory(tuple(np.linspace(60, 150, 20))))
    figure = spot_maps_figure(beam, max_layers=6)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 6
    assert panels[0].get_title().startswith("150.0 MeV/u")
    assert panels[-1].get_title().startswith("60.0 MeV/u")
    assert "showing 6 of 20 layers" in figure.get_suptitle()


def test_empty_beam_and_plan(plan_factory) -> None:
    beam = Beam("B0", BeamGeometry(), SpotMap.empty())
    assert "no spots" in spot_maps_figure(beam).texts[0].get_text()
    plan = Plan("proton", (beam,), Prescription("Target", 2.0))
    with pytest.raises(ConfigError, match="no spots"):
        bragg_curves_figure(plan)
