"""Radiobiology: the LQ model, proton RBE models, the mMKM for ions and biological tables.

Modules: ``tissue`` (photon LQ and MKM parameters per tissue), ``lq`` (biological
effect, RBE-weighted dose and its derivative), ``proton_rbe`` (constant RBE 1.1,
McNamara 2015, Wedenberg 2013, Carabe 2012), ``mkm`` (single-ion mMKM with the
Kiefer–Chatterjee track), ``mixed_field`` (dose-weighted α and √β from fluence spectra)
and ``tables`` (α and √β per beam energy and depth for the dose engine).
Units: Gy, Gy⁻¹, Gy⁻², Gy(RBE), keV/µm, MeV/u, µm (track and domain radii), mm (depth).
"""

from ionbeam.physics.radiobiology.lq import (
    biological_effect,
    effect_from_rbe_weighted_dose,
    rbe,
    rbe_weighted_dose,
    rbe_weighted_dose_derivative,
)
from ionbeam.physics.radiobiology.mixed_field import MixedFieldLQ, mixed_field_lq
from ionbeam.physics.radiobiology.mkm import (
    single_ion_alpha_gy,
    single_ion_z1d_star_gy,
    z1d_star_table_gy,
)
from ionbeam.physics.radiobiology.proton_rbe import (
    PROTON_RBE_MODELS,
    Carabe2012,
    ConstantRBE,
    McNamara2015,
    ProtonRBEModel,
    Wedenberg2013,
    get_proton_rbe_model,
)
from ionbeam.physics.radiobiology.tables import (
    BiologyTables,
    compute_biology_tables,
    compute_biology_tables_per_tissue,
)
from ionbeam.physics.radiobiology.tissue import (
    TISSUES,
    MKMParameters,
    TissueParameters,
    get_tissue,
)

__all__ = [
    "PROTON_RBE_MODELS",
    "TISSUES",
    "BiologyTables",
    "Carabe2012",
    "ConstantRBE",
    "MKMParameters",
    "McNamara2015",
    "MixedFieldLQ",
    "ProtonRBEModel",
    "TissueParameters",
    "Wedenberg2013",
    "biological_effect",
    "compute_biology_tables",
    "compute_biology_tables_per_tissue",
    "effect_from_rbe_weighted_dose",
    "get_proton_rbe_model",
    "get_tissue",
    "mixed_field_lq",
    "rbe",
    "rbe_weighted_dose",
    "rbe_weighted_dose_derivative",
    "single_ion_alpha_gy",
    "single_ion_z1d_star_gy",
    "z1d_star_table_gy",
]
