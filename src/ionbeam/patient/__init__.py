"""The patient: grid geometry, CT and HU→SPR calibration, structures, phantoms."""

from ionbeam.patient.grid import Grid

__all__ = ["Grid"]
