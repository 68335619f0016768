"""The patient: grid geometry, CT and HU→SPR calibration, structures, phantoms."""

from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.calibration_file import load_calibration
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid
from ionbeam.patient.hu_model import DEFAULT_HU_MODEL, HUModel, fit_hu_model
from ionbeam.patient.patient import Patient
from ionbeam.patient.resample import resample
from ionbeam.patient.stoichiometric import stoichiometric_calibration, tissue_points
from ionbeam.patient.structures import Structure, StructureSet

__all__ = [
    "CT",
    "DEFAULT_HU_MODEL",
    "Grid",
    "HUCalibration",
    "HUModel",
    "Patient",
    "Structure",
    "StructureSet",
    "fit_hu_model",
    "load_calibration",
    "resample",
    "stoichiometric_calibration",
    "tissue_points",
]
