"""``ionbeam synchrotron``: optics, rigidity, separatrix, spill and cycle at one energy."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

__all__ = ["register", "summary"]


def register(subparsers: Any) -> None:
    """Add the ``synchrotron`` sub-command."""
    parser = subparsers.add_parser(
        "synchrotron",
        help="optics, rigidity, separatrix, spill model and cycle time of the synchrotron",
        description=(
            "Optics (Xsuite twiss, cached), magnetic rigidity and dipole field, third-integer "
            "separatrix and Hardt condition, the reduced slow-extraction spill model and the "
            "cycle time, for one particle and extraction energy."
        ),
    )
    parser.add_argument("--machine", default="pimms",
                        help="pimms, cnao or medaustron (default pimms)")  # fmt: skip
    parser.add_argument("--particle", default="carbon", help="proton, helium, carbon, oxygen")
    parser.add_argument(
        "--energy",
        type=float,
        help="extraction energy, MeV/u, within the machine's span for the particle (protons "
        "60-250, carbon 120-400; default: the highest)",
    )
    parser.add_argument("--spill-length", type=float, default=1.0, help="spill length, s")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--plot", type=Path, help="write a figure (optics, Steinbach, spill)")
    parser.set_defaults(handler=run)


def summary(
    machine: str, particle: str, energy_mev_u: float, *, spill_length_s: float = 1.0
) -> dict[str, Any]:
    """The numbers ``ionbeam synchrotron`` prints (plain floats and strings)."""
    from ionbeam.machine import get_machine
    from ionbeam.machine.synchrotron.resonance import stable_area_m

    facility = get_machine(machine).with_cycle(spill_length_s=spill_length_s)
    ring = facility.synchrotron
    ring.check_energy(particle, energy_mev_u)  # the rigidity range and the facility's limits
    optics = ring.optics()
    from ionbeam.machine.synchrotron.spill import extraction_setup, reduced_spill_model

    setup = extraction_setup(ring)
    spill = reduced_spill_model(
        ring,
        particle,
        energy_mev_u,
        beam=facility.circulating_beam,
        spill_length_s=spill_length_s,
        extracted_particles=facility.spill_particles(particle),
    )
    cycle = facility.cycle
    return {
        "machine": ring.name,
        "particle": spill.particle,
        "energy_mev_u": float(energy_mev_u),
        "brho_tm": float(ring.brho_tm(particle, energy_mev_u)),
        "dipole_field_t": float(ring.dipole_field_t(particle, energy_mev_u)),
        "revolution_frequency_hz": spill.revolution_frequency_hz,
        "circumference_m": ring.circumference_m,
        "qx": optics.qx,
        "qy": optics.qy,
        "dqx": optics.dqx,
        "dqy": optics.dqy,
        "gamma_transition": optics.gamma_transition,
        "resonance_tune": setup.resonance_tune,
        "virtual_sextupole_strength": setup.strength,
        "separatrix_area_on_momentum_m": float(stable_area_m(setup.tune_distance, setup.strength)),
        "hardt_chromaticity": setup.hardt_chromaticity,
        "extraction_efficiency": spill.extraction_efficiency,
        "spill_length_s": spill.spill_length_s,
        "extracted_particles_per_spill": spill.extracted_particles,
        "extracted_emittance_x_m": spill.extracted_emittance_x_m,
        "extracted_momentum_spread": spill.extracted_momentum_spread,
        "spiral_step_m": spill.spiral_step_m,
        "betatron_core_voltage_v": spill.betatron_core_voltage_v,
        "betatron_core_sweep": spill.betatron_core_sweep,
        "ramp_up_s": float(cycle.ramp_up_s(particle, energy_mev_u)),
        "ramp_down_s": float(cycle.ramp_down_s(particle, energy_mev_u)),
        "cycle_time_s": float(cycle.cycle_s(particle, energy_mev_u)),
    }


_ROWS = (
    ("brho_tm", "magnetic rigidity", "T·m"),
    ("dipole_field_t", "dipole field", "T"),
    ("revolution_frequency_hz", "revolution frequency", "Hz"),
    ("circumference_m", "circumference", "m"),
    ("qx", "Qx", ""),
    ("qy", "Qy", ""),
    ("dqx", "dQx/dδ", ""),
    ("dqy", "dQy/dδ", ""),
    ("gamma_transition", "γ transition", ""),
    ("virtual_sextupole_strength", "virtual sextupole S", "m^-1/2"),
    ("separatrix_area_on_momentum_m", "separatrix area (δ = 0)", "m"),
    ("hardt_chromaticity", "Hardt chromaticity", ""),
    ("extraction_efficiency", "extraction efficiency", ""),
    ("spill_length_s", "spill length", "s"),
    ("extracted_particles_per_spill", "particles per spill", ""),
    ("extracted_emittance_x_m", "extracted emittance (rms)", "m·rad"),
    ("extracted_momentum_spread", "extracted Δp/p (rms)", ""),
    ("spiral_step_m", "spiral step at septum", "m"),
    ("betatron_core_voltage_v", "betatron core voltage", "V/turn"),
    ("cycle_time_s", "cycle time", "s"),
)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam synchrotron``."""
    from ionbeam.cli._output import print_json, print_table

    energy = args.energy
    if energy is None:
        from ionbeam.machine import get_machine

        energy = get_machine(args.machine).energy_range_mev_u(args.particle)[1]
    values = summary(args.machine, args.particle, energy, spill_length_s=args.spill_length)
    if args.plot is not None:
        _plot(values, args.plot)
        values["plot"] = str(args.plot)
    if args.json:
        print_json(values)
        return 0
    title = f"{values['machine']}: {values['particle']} at {values['energy_mev_u']:g} MeV/u"
    print_table(title, ("quantity", "value", "unit"), [(n, values[k], u) for k, n, u in _ROWS])
    if args.plot is not None:
        print(f"figure written to {args.plot}")
    return 0


def _plot(values: dict[str, Any], path: Path) -> None:
    """Optics, Steinbach diagram, separatrix at the septum and the spill, in one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ionbeam.machine import get_machine
    from ionbeam.machine.synchrotron.resonance import separatrix_at, steinbach_boundary
    from ionbeam.machine.synchrotron.spill import extraction_setup, reduced_spill_model

    facility = get_machine(values["machine"])
    ring = facility.synchrotron
    optics = ring.optics()
    setup = extraction_setup(ring)
    particle, energy = values["particle"], values["energy_mev_u"]
    spill = reduced_spill_model(
        ring, particle, energy, beam=facility.circulating_beam,
        spill_length_s=values["spill_length_s"],
        extracted_particles=values["extracted_particles_per_spill"],
    )  # fmt: skip
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    ax.plot(optics.s_m, optics.betx_m, label="β_x")
    ax.plot(optics.s_m, optics.bety_m, label="β_y")
    ax.plot(optics.s_m, optics.dx_m, label="D_x")
    ax.axvline(optics.septum.s_m, color="k", ls=":", label="septum")
    ax.set(xlabel="s (m)", ylabel="m", title=f"{ring.name} optics")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    beam = facility.circulating_beam
    delta = np.linspace(-4e-3, 4e-3, 400)
    boundary = steinbach_boundary(delta, qx=optics.qx, dqx=optics.dqx, strength=setup.strength)
    ax.plot(delta * 1e3, boundary * 1e3, "k", label="stability limit")
    sigma_r = math.sqrt(beam.emittance_x_m(particle, energy))
    start = spill.sweep_start
    hw = beam.momentum_half_width
    ax.fill_between([(start - hw) * 1e3, (start + hw) * 1e3], 0, 3 * sigma_r * 1e3, alpha=0.3,
                    label="beam at spill start")  # fmt: skip
    ax.set(xlabel="δ (10⁻³)", ylabel="√ε (√mm·mrad)", title="Steinbach diagram")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    p = setup.septum
    dq = setup.approach_sign * setup.kobayashi_c * sigma_r
    sextupole = _virtual(optics)
    sep = separatrix_at(p, sextupole, dq, septum_side=setup.septum_side)
    tri = np.vstack([sep.vertices, sep.vertices[:1]])
    arm = np.stack([sep.arm_start, sep.arm_start + 3 * sep.inradius * 10 * sep.arm_direction])
    for pts, style in ((tri, "b-"), (arm, "r-")):
        x = math.sqrt(p.betx_m) * pts[:, 0]
        xp = (pts[:, 1] - p.alfx * pts[:, 0]) / math.sqrt(p.betx_m)
        ax.plot(x * 1e3, xp * 1e3, style)
    ax.axvline(ring.layout.septum.x_m * 1e3, color="k", ls="--", label="septum wires")
    ax.set(xlabel="x (mm)", ylabel="x' (mrad)", title="separatrix at the septum (median amplitude)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    t = np.linspace(0, spill.time_s[-1], 400)
    ax.plot(t, spill.intensity_pps(t), label=f"{spill.ramp} ramp")
    ax.set(xlabel="t (s)", ylabel="particles/s", title="spill (reduced model)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    from ionbeam.cli._output import save_figure

    save_figure(fig, path, dpi=120)
    plt.close(fig)


def _virtual(optics: Any) -> Any:
    from ionbeam.machine.synchrotron.resonance import virtual_sextupole

    return virtual_sextupole(optics)
