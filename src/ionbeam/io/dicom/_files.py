"""Reading DICOM files with clear errors, and writing folders atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ionbeam.errors import ConfigError, DicomError

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
    """Write ``dataset`` to the file ``path`` atomically and return the path.

    The file is written beside ``path`` under a temporary name and renamed into
    place, so a failure never leaves a half-written file. An existing file is
    refused unless ``overwrite``.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the path of the DICOM file to write")
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; choose another file name or allow overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write_dataset(dataset, Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_directory(out_dir: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir``.

    If the body raises, the temporary folder is removed and ``out_dir`` is left
    as it was: no half-written output. An existing non-empty ``out_dir`` is
    refused unless ``overwrite``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a folder; choose another output path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"output folder {out_dir} is not empty; choose a new folder or allow overwriting"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    backup = None
    if out_dir.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        os.replace(out_dir, backup / "old")
    os.replace(temporary, out_dir)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
