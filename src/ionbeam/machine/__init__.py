"""The facility: synchrotron (lattice, rigidity, optics, slow extraction, spill, cycle),
energy libraries, and the beam at the patient (spot size, SADs, range shifter, ripple filter).

The planning and delivery code use :class:`Machine` (``cnao_machine()``,
``pimms_machine()``): its energy libraries, beam line, intensities, spot
limits, scanning speeds, cycle timing and reduced spill model. Nothing here
imports Xsuite at import time.
"""

from ionbeam.machine.beamline import (
    BeamLine,
    RangeShifter,
    RippleFilter,
    SpotSizeTable,
    cnao_beam_line,
    default_ripple_filter,
)
from ionbeam.machine.energy_library import (
    EnergyLibrary,
    cnao_energy_library,
    energy_library_from_ranges,
)
from ionbeam.machine.facility import (
    Machine,
    ScanningSystem,
    SpotLimits,
    cnao_machine,
    medaustron_machine,
    pimms_machine,
)
from ionbeam.machine.kinematics import (
    energy_from_rigidity_mev_u,
    magnetic_rigidity_tm,
    revolution_frequency_hz,
)
from ionbeam.machine.registry import MACHINES, get_machine
from ionbeam.machine.synchrotron import (
    CirculatingBeam,
    CycleTiming,
    SpillModel,
    Synchrotron,
    cnao_synchrotron,
    get_synchrotron,
    pimms_synchrotron,
    reduced_spill_model,
)

__all__ = [
    "MACHINES",
    "BeamLine",
    "CirculatingBeam",
    "CycleTiming",
    "EnergyLibrary",
    "Machine",
    "RangeShifter",
    "RippleFilter",
    "ScanningSystem",
    "SpillModel",
    "SpotLimits",
    "SpotSizeTable",
    "Synchrotron",
    "cnao_beam_line",
    "cnao_energy_library",
    "cnao_machine",
    "cnao_synchrotron",
    "default_ripple_filter",
    "energy_from_rigidity_mev_u",
    "energy_library_from_ranges",
    "get_machine",
    "get_synchrotron",
    "magnetic_rigidity_tm",
    "medaustron_machine",
    "pimms_machine",
    "pimms_synchrotron",
    "reduced_spill_model",
    "revolution_frequency_hz",
]
