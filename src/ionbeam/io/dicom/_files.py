"""Reading DICOM files with clear errors, and writing them atomically.

A folder given as a DICOM patient may hold other files (a README, a
screenshot): files that are not DICOM at all (no ``DICM`` prefix) are skipped
with a :class:`DicomWarning`; a DICOM file that cannot be read (damaged,
truncated) is refused, naming it.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ionbeam._atomic import atomic_directory, write_atomically
from ionbeam.errors import DicomError
from ionbeam.io.dicom._limits import check_value_lengths

__all__ = [
    "DicomWarning",
    "atomic_directory",
    "dicom_files",
    "encode_dataset",
    "read_dataset",
    "read_headers",
    "write_dataset",
    "write_dicom_file",
]

#: What a damaged file raises while pydicom parses it.
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_PARSE_ERRORS = (OSError, EOFError, ValueError, KeyError, AttributeError, TypeError, IndexError)


class DicomWarning(UserWarning):
    """Something in DICOM input was skipped or dropped; the rest was read."""


def read_dataset(path: Path, *, stop_before_pixels: bool = False) -> Dataset:
    """A DICOM file, or ``DicomError`` naming the file when it cannot be read or is
    truncated (pydicom reads a file cut short without complaint)."""
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except (InvalidDicomError, *_PARSE_ERRORS) as exc:
        raise DicomError(
            f"{path} is not a readable DICOM file ({type(exc).__name__}: {exc}); "
            "remove it from the folder or replace it"
        ) from None
    _check_complete(dataset, path)
    return dataset


def _check_complete(dataset: Dataset, path: Path) -> None:
    """Refuse a file whose last element holds fewer bytes than its length says, or that
    has no Modality (cut before it); a DICOMDIR (no Modality) is not checked for it."""
    for tag in list(dataset.keys()):
        raw = dataset.get_item(tag)
        length = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        if isinstance(value, bytes) and length not in (None, 0xFFFFFFFF) and len(value) < length:
            raise DicomError(f"{path} is truncated (cut inside {tag}); replace the file")
    if "Modality" not in dataset and not _is_dicomdir(dataset):
        raise DicomError(
            f"{path} has no Modality; the file is truncated or damaged: replace or remove it"
        )


def _is_dicomdir(dataset: Dataset) -> bool:
    meta = getattr(dataset, "file_meta", None)
    return str(getattr(meta, "MediaStorageSOPClassUID", "")) == _MEDIA_STORAGE_DIRECTORY


def read_headers(folder: Path) -> list[Dataset]:
    """The headers (no pixel data) of the DICOM files in ``folder``, sorted by file
    name; files that are not DICOM are skipped with a :class:`DicomWarning`."""
    headers: list[Dataset] = []
    for path in dicom_files(folder):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            warnings.warn(f"{path} is not a DICOM file; skipped", DicomWarning, stacklevel=2)
            continue
        except _PARSE_ERRORS as exc:
            raise DicomError(
                f"{path} is a damaged DICOM file ({type(exc).__name__}: {exc}); "
                "remove it from the folder or replace it"
            ) from None
        _check_complete(header, path)
        if not _is_dicomdir(header):
            headers.append(header)
    return headers


def dicom_files(folder: Path) -> list[Path]:
    """The regular, non-hidden files of ``folder`` (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomError(f"{folder} is not a folder; give the folder that holds the DICOM files")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def write_dataset(dataset: Dataset, path: Path) -> None:
    """Write ``dataset`` as a DICOM file (Part 10, with file meta information), after
    checking that every text value fits its VR (see :mod:`._limits`)."""
    check_value_lengths(dataset)
    dataset.save_as(path, enforce_file_format=True)


def encode_dataset(dataset: Dataset) -> bytes:
    """The bytes :func:`write_dataset` writes for ``dataset`` (checked the same way), for
    a file written into several folders."""
    check_value_lengths(dataset)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_dicom_file(dataset: Dataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``dataset`` to the file ``path`` atomically and return the path (an
    existing file is refused unless ``overwrite``)."""
    return write_atomically(path, lambda tmp: write_dataset(dataset, tmp), overwrite=overwrite)
