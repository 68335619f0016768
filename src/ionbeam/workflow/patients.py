"""Which patient to plan: a built-in phantom by name or a DICOM folder (CT + RTSTRUCT).

:func:`load_patient` is the one door; the phantoms' default targets and beams
(:data:`PHANTOM_DEFAULTS`, :data:`FIXED_LINE_DEFAULTS`) are what a plan request falls
back on when it names neither. A phantom whose voxels would not fit in memory is
refused before it is built (:func:`check_phantom_memory`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ionbeam.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from ionbeam.patient import Patient

__all__ = ["FIXED_LINE_DEFAULTS", "PHANTOM_DEFAULTS", "check_phantom_memory", "load_patient"]

#: Per phantom: target structure and default gantry angles (degrees) on a machine with a
#: gantry.
PHANTOM_DEFAULTS: dict[str, tuple[str, tuple[float, ...]]] = {
    "tg119": ("OuterTarget", (0.0, 120.0, 240.0)),
    "head": ("PTV", (90.0, 270.0)),
    "lung": ("PTV", (180.0, 270.0)),
    "water": ("Target", (0.0,)),
}
#: Default beams on a fixed-line machine (CNAO: vertical 0°, horizontal 90°/270°) where
#: the gantry angles above are not all available: (gantry, couch) pairs.
FIXED_LINE_DEFAULTS: dict[str, tuple[tuple[float, float], ...]] = {
    "tg119": ((0.0, 0.0), (90.0, 0.0), (270.0, 0.0)),
    "lung": ((270.0, 0.0), (0.0, 0.0)),
}


def load_patient(
    *,
    phantom: str | None = None,
    dicom: str | Path | None = None,
    target: str | None = None,
    spacing_mm: float | None = None,
    ct_series: str | None = None,
) -> Patient:
    """The patient: the built-in ``phantom`` (``tg119``, ``head``, ``lung``, ``water``;
    ``spacing_mm``: its voxel size, mm) or the CT + RTSTRUCT of the ``dicom`` folder
    (``ct_series``: the SeriesInstanceUID where it holds several; ``target``: the target
    structure's name where the RTSTRUCT does not say). Exactly one of ``phantom`` and
    ``dicom``; a setting that does not apply to it is refused (:class:`ConfigError`)."""
    patient, _ = resolve_patient(
        phantom=phantom, dicom=dicom, target=target, spacing_mm=spacing_mm, ct_series=ct_series
    )
    return patient


def resolve_patient(
    *,
    phantom: str | None,
    dicom: str | Path | None,
    target: str | None = None,
    spacing_mm: float | None = None,
    ct_series: str | None = None,
) -> tuple[Patient, str | None]:
    """:func:`load_patient` and the phantom's normalized name (None for a DICOM patient)."""
    if phantom is None and dicom is None:
        raise ConfigError(
            "say which patient to plan: --phantom NAME (tg119, head, lung, water) or "
            "--dicom FOLDER (CT series + RTSTRUCT), or a [patient] section in the plan file"
        )
    if phantom is not None and dicom is not None:
        raise ConfigError("give a phantom or a DICOM folder, not both")
    if dicom is not None:
        from ionbeam.io.dicom import read_dicom_patient

        if spacing_mm is not None:
            raise ConfigError("--ct-spacing applies to phantoms only, not to a DICOM patient")
        if not Path(dicom).is_dir():
            raise ConfigError(f"DICOM folder {dicom} does not exist")
        patient = read_dicom_patient(Path(dicom), target_name=target, series_instance_uid=ct_series)
        return patient, None
    if ct_series is not None:
        raise ConfigError("--ct-series applies to a DICOM patient (--dicom) only")
    from ionbeam.patient.phantoms import make_phantom

    name = str(phantom).strip().lower()
    if name not in PHANTOM_DEFAULTS:
        raise UnknownNameError("phantom", phantom, PHANTOM_DEFAULTS)
    params = {} if spacing_mm is None else {"spacing_mm": spacing_mm}
    check_phantom_memory(name, params, option="--ct-spacing")
    return make_phantom(name, **params), name


def check_phantom_memory(name: str, params: dict[str, Any], *, option: str) -> None:
    """Refuse a phantom whose voxels would not fit in the available memory (its extent
    read off a quick 20 mm build); ``option`` names the setting to change."""
    from ionbeam._memory import PHANTOM_BYTES_PER_VOXEL, check_fits
    from ionbeam.patient.phantoms import make_phantom

    spacing = params.get("spacing_mm")
    if spacing is None or not (math.isfinite(spacing) and spacing > 0):
        return  # the phantom's default, or refused by the phantom itself
    low, high = make_phantom(name, spacing_mm=20.0).grid.extent_mm
    voxels = math.prod(float(h - lo) / float(spacing) for lo, h in zip(low, high, strict=True))
    check_fits(
        voxels * PHANTOM_BYTES_PER_VOXEL,
        what=f"the {name} phantom with {float(spacing):g} mm voxels ({voxels:,.0f} voxels)",
        hint=f"use larger voxels ({option})",
    )
