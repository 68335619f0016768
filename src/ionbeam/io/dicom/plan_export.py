"""A planned treatment as DICOM: CT + RT Structure Set (when ionbeam made the patient),
RT Ion Plan, and RT Doses (physical, RBE-weighted) with consistent UIDs; LET_d
beside them as ``LETd.mha`` (MetaImage, keV/µm, see :mod:`ionbeam.io.metaimage`),
never as an RT Dose, which every system would list as a dose of the plan.

For a phantom, the CT and RTSTRUCT are written next to the plan with study UIDs
derived from the phantom, so that the same plan exports to the same UIDs. For a
patient read from DICOM, the plan and doses refer to the original study, frame
of reference and RT Structure Set, and no CT or RTSTRUCT is written again.
Doses are written for the whole plan (``DoseSummationType`` PLAN: all fractions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ionbeam.errors import ConfigError
from ionbeam.io.dicom._common import StudyInfo
from ionbeam.io.dicom._files import DicomWarning, read_dataset, read_headers, write_dataset
from ionbeam.io.dicom.ct import series_from_headers
from ionbeam.io.dicom.patient_io import (
    PatientDatasets,
    registered_structure_sets,
    write_patient_files,
)
from ionbeam.io.dicom.rt_ion_plan import rt_ion_plan_dataset
from ionbeam.io.dicom.rtdose import rt_dose_dataset
from ionbeam.io.dicom.rtstruct import roi_names
from ionbeam.io.metaimage import write_metaimage
from ionbeam.patient.grid import Grid
from ionbeam.patient.patient import Patient
from ionbeam.planning.plan import Plan

__all__ = ["PlanDoses", "write_plan_dicom"]


@dataclass(frozen=True, eq=False)
class PlanDoses:
    """Doses of a whole plan (all fractions) on ``grid``: ``physical_gy``, optionally
    ``rbe_weighted_gy`` (Gy(RBE)) and ``let_d_kev_um``."""

    grid: Grid
    physical_gy: np.ndarray
    rbe_weighted_gy: np.ndarray | None = None
    let_d_kev_um: np.ndarray | None = None


def write_plan_dicom(
    folder: str | Path,
    patient: Patient,
    plan: Plan,
    doses: PlanDoses,
    *,
    source: str | Path | None = None,
    spot_fwhm_mm: Callable[[float], tuple[float, float]] | None = None,
    patient_files: PatientDatasets | None = None,
) -> dict[str, Path]:
    """Write the DICOM files of a plan into the existing ``folder``.

    ``source``: the DICOM folder the patient was read from (then its study and
    RT Structure Set are referenced); None for a patient ionbeam built (then
    ``CT_*.dcm`` and ``RS.dcm`` are written too). ``spot_fwhm_mm``: the machine's
    spot size in air per energy, for ``ScanningSpotSize``; ``patient_files``: the CT and
    RT Structure Set datasets of ``patient`` built before
    (:func:`~ionbeam.io.dicom.patient_io.patient_datasets`: several plans of one patient
    build them once; not with ``source``). Returns the paths by role.
    """
    out = Path(folder)
    written: dict[str, Path] = {}
    if source is None:
        study, structure_set = write_patient_files(out, patient, datasets=patient_files)
        written["rtstruct"] = out / "RS.dcm"
    elif patient_files is not None:
        raise ConfigError(
            "patient_files are the CT and RTSTRUCT of a patient ionbeam made; a plan of a "
            f"patient read from {source} refers to that folder's files: leave them out"
        )
    else:
        study, structure_set = _source_references(Path(source), plan.prescription.target)
    plan_ds = rt_ion_plan_dataset(
        plan, study=study, structure_set=structure_set, spot_fwhm_mm=spot_fwhm_mm
    )
    written["rtplan"] = _write(plan_ds, out / "RP.dcm")
    common: dict[str, Any] = {"study": study, "rt_plan": plan_ds}
    written["rtdose_physical"] = _write(
        rt_dose_dataset(doses.physical_gy, doses.grid, dose_type="PHYSICAL", **common),
        out / "RD_physical.dcm",
    )
    if doses.rbe_weighted_gy is not None:
        dataset = rt_dose_dataset(
            doses.rbe_weighted_gy, doses.grid, dose_type="EFFECTIVE", series_number=5, **common
        )
        written["rtdose_rbe"] = _write(dataset, out / "RD_rbe_weighted.dcm")
    if doses.let_d_kev_um is not None:
        written["let_d"] = write_metaimage(out / "LETd.mha", doses.let_d_kev_um, doses.grid)
    return written


def _write(dataset: Dataset, path: Path) -> Path:
    write_dataset(dataset, path)
    return path


def _source_references(folder: Path, target: str) -> tuple[StudyInfo, Dataset]:
    """The study of the CT in ``folder`` and the RT Structure Set registered to it that
    holds the plan's ``target`` (the first registered one when none does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomWarning)  # shown when the patient was read
        headers = read_headers(folder)
    series = series_from_headers(headers, folder)
    registered = registered_structure_sets(headers, series.frame_of_reference_uid, folder)
    for header in registered:
        if target in roi_names(header).values():
            return series.study, read_dataset(Path(header.filename))
    return series.study, read_dataset(Path(registered[0].filename))
