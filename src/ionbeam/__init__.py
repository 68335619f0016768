"""ionbeam: ion-beam therapy from the synchrotron to the patient.

Physics of protons and ions in matter, a PIMMS/CNAO-type synchrotron, the
patient model, treatment planning, spill-by-spill delivery and evaluation.
See ``DESIGN`` in the documentation for the architecture and conventions
(millimetres, MeV/u, Gy, particles; volumes indexed [x, y, z] in DICOM LPS).
"""

from importlib.metadata import PackageNotFoundError, version

from ionbeam.errors import IonbeamError

try:
    __version__ = version("ionbeam")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["IonbeamError", "__version__"]
