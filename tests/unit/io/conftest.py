"""Shared helpers for the DICOM tests: small CTs written as series."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from ionbeam.io.dicom import StudyInfo, ct_datasets
from ionbeam.io.dicom._files import write_dataset
from ionbeam.patient import CT, Grid


def _small_ct() -> CT:
    grid = Grid((6, 5, 4), (1.5, 2.0, 2.5), (-4.0, -3.0, 10.0))
    hu = np.arange(grid.size, dtype=np.float32).reshape(grid.shape) * 7.3 - 900.0
    return CT(hu, grid)


def _study() -> StudyInfo:
    return StudyInfo.new("test^patient", seed="tests")


@pytest.fixture
def ct() -> CT:
    """A 6 × 5 × 4 CT with distinct HU in every voxel."""
    return _small_ct()


@pytest.fixture
def study() -> StudyInfo:
    """A fixed study identity."""
    return _study()


@pytest.fixture
def write_series(tmp_path: Path) -> Callable[..., Path]:
    """Write the datasets of a CT (optionally changed by ``edit``) into a new folder."""

    def write(ct: CT | None = None, edit: Callable[[list[Dataset]], list[Dataset]] | None = None,
              name: str = "ct") -> Path:  # fmt: skip
        datasets, _ = ct_datasets(ct or _small_ct(), _study())
        if edit is not None:
            datasets = edit(datasets)
        folder = tmp_path / name
        folder.mkdir()
        for k, ds in enumerate(datasets):
            write_dataset(ds, folder / f"img{k:03d}.dcm")
        return folder

    return write
