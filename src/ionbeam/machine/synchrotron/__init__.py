"""The synchrotron: ring layouts, optics (Xsuite), third-integer resonance, slow extraction,
cycle timing.

Only :mod:`.lattice_xsuite`, :mod:`.optics` and :mod:`.tracking` touch
Xsuite, and they import it lazily.
"""

from ionbeam.machine.synchrotron.cycle import CycleTiming
from ionbeam.machine.synchrotron.layout import (
    MagnetFamily,
    RingLayout,
    SeptumGeometry,
    cnao_layout,
    get_layout,
    pimms_layout,
)
from ionbeam.machine.synchrotron.optics import (
    PointOptics,
    RingOptics,
    compute_optics,
    match_working_point,
)
from ionbeam.machine.synchrotron.resonance import (
    Separatrix,
    VirtualSextupole,
    hardt_chromaticity,
    resonance_tune,
    separatrix_at,
    stable_area_m,
    stable_emittance_m,
    steinbach_boundary,
    virtual_sextupole,
)
from ionbeam.machine.synchrotron.rfko import RfkoSpill, track_rfko_spill
from ionbeam.machine.synchrotron.ring import (
    Synchrotron,
    cnao_synchrotron,
    get_synchrotron,
    medaustron_synchrotron,
    pimms_synchrotron,
)
from ionbeam.machine.synchrotron.spill import (
    CirculatingBeam,
    ExtractionSetup,
    SpillModel,
    extraction_setup,
    reduced_spill_model,
)

__all__ = [
    "CirculatingBeam",
    "CycleTiming",
    "ExtractionSetup",
    "MagnetFamily",
    "PointOptics",
    "RfkoSpill",
    "RingLayout",
    "RingOptics",
    "Separatrix",
    "SeptumGeometry",
    "SpillModel",
    "Synchrotron",
    "VirtualSextupole",
    "cnao_layout",
    "cnao_synchrotron",
    "compute_optics",
    "extraction_setup",
    "get_layout",
    "get_synchrotron",
    "hardt_chromaticity",
    "match_working_point",
    "medaustron_synchrotron",
    "pimms_layout",
    "pimms_synchrotron",
    "reduced_spill_model",
    "resonance_tune",
    "separatrix_at",
    "stable_area_m",
    "stable_emittance_m",
    "steinbach_boundary",
    "track_rfko_spill",
    "virtual_sextupole",
]
