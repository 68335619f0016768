"""ionbeam: ion-beam therapy from the synchrotron to the patient.

Physics of protons and ions in matter, a PIMMS/CNAO-type synchrotron, the
patient model, treatment planning, spill-by-spill delivery and evaluation.
See ``DESIGN`` in the documentation for the architecture and conventions
(millimetres, MeV/u, Gy, particles; volumes indexed [x, y, z] in DICOM LPS).
"""

from ionbeam.errors import IonbeamError

__all__ = ["IonbeamError", "__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importing
    :mod:`importlib.metadata` costs ~0.1 s, which ``ionbeam --help`` need not pay)."""
    if name != "__version__":
        raise AttributeError(f"module 'ionbeam' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("ionbeam")
    except PackageNotFoundError:  # running from a source tree without installation
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
