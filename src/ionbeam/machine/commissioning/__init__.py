"""Beam-model commissioning: a clinic's measured beam as ionbeam's beam model.

A beam-model file describes one particle on one beam line as a clinic measures it
(``docs/commissioning.md``): per nominal energy the mean energy and energy spread,
optionally a depth–dose curve in water (measured or Monte Carlo), the spot's phase
space in air, the scanning magnets' virtual source distances, and the range shifter
and ripple filter. :func:`load_commissioning` reads ionbeam's TOML format or an
MCsquare BDL into a :class:`Commissioning`; :func:`machine_from_commissioning` and
:func:`beam_model_from_commissioning` make what planning uses;
:func:`commissioning_from_beam_model` with :func:`write_beam_model_file` exports
ionbeam's generic CNAO-like model as a template.
"""

from ionbeam.machine.commissioning.bdl import read_mcsquare_bdl
from ionbeam.machine.commissioning.build import (
    beam_model_from_commissioning,
    commissioning_from_beam_model,
    commissioning_record,
    load_commissioning,
    machine_from_commissioning,
)
from ionbeam.machine.commissioning.description import (
    Commissioning,
    SpotPhaseSpace,
    drift_phase_space,
)
from ionbeam.machine.commissioning.toml_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    read_beam_model_file,
    write_beam_model_file,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Commissioning",
    "SpotPhaseSpace",
    "beam_model_from_commissioning",
    "commissioning_from_beam_model",
    "commissioning_record",
    "drift_phase_space",
    "load_commissioning",
    "machine_from_commissioning",
    "read_beam_model_file",
    "read_mcsquare_bdl",
    "write_beam_model_file",
]
