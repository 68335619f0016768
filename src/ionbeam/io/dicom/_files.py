"""Reading DICOM files with clear errors, and writing them atomically."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ionbeam._atomic import atomic_directory, write_atomically
from ionbeam.errors import DicomError

__all__ = [
    "atomic_directory",
    "dicom_files",
    "read_dataset",
    "write_dataset",
    "write_dicom_file",
]


def read_dataset(path: Path, *, stop_before_pixels: bool = False) -> Dataset:
    """A DICOM file, or ``DicomError`` naming the file when it cannot be read."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, AttributeError) as exc:
        raise DicomError(
            f"{path} is not a readable DICOM file ({type(exc).__name__}: {exc}); "
            "remove it from the folder or replace it"
        ) from None


def dicom_files(folder: Path) -> list[Path]:
    """The regular, non-hidden files of ``folder`` (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomError(f"{folder} is not a folder; give the folder that holds the DICOM files")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def write_dataset(dataset: Dataset, path: Path) -> None:
    """Write ``dataset`` as a DICOM file (Part 10, with file meta information)."""
    dataset.save_as(path, enforce_file_format=True)


def write_dicom_file(dataset: Dataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``dataset`` to the file ``path`` atomically and return the path (an
    existing file is refused unless ``overwrite``)."""
    return write_atomically(path, lambda tmp: write_dataset(dataset, tmp), overwrite=overwrite)
