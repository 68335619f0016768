"""Tests write computed tables (optics, tracked spills, depth–dose and biology libraries)
to a private cache directory, never to the user's cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("IONBEAM_CACHE_DIR")
    os.environ["IONBEAM_CACHE_DIR"] = str(tmp_path_factory.mktemp("ionbeam-cache"))
    yield
    if previous is None:
        os.environ.pop("IONBEAM_CACHE_DIR", None)
    else:
        os.environ["IONBEAM_CACHE_DIR"] = previous


_DCIODVFY_32_BIT_ABORT = "bitsallocated <= bytesinword*8u"


def _dciodvfy() -> str:
    executable = shutil.which("dciodvfy")
    if executable is None:
        if os.environ.get("IONBEAM_REQUIRE_DCIODVFY"):
            pytest.fail("IONBEAM_REQUIRE_DCIODVFY is set but dciodvfy (dicom3tools) is missing")
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    return executable


def _dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's error lines for the DICOM file ``path``.

    dciodvfy checks a file against its IOD (required attributes, conditions,
    enumerated values). It is skipped when not installed, unless
    IONBEAM_REQUIRE_DCIODVFY is set (``.ci/run`` sets it): then the test fails.
    dicom3tools 1.00~20220618 aborts (``bitsallocated <= bytesinword*8u``) on any
    image with 32-bit pixels, which the RT Dose module allows; such a file is then
    validated as a copy whose pixel data alone is re-encoded in 16 bits.
    """
    result = subprocess.run(
        [_dciodvfy(), str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    output = result.stdout + result.stderr
    if _DCIODVFY_32_BIT_ABORT in output:
        ds = pydicom.dcmread(path)
        assert ds.BitsAllocated == 32
        high_bits = (ds.pixel_array >> 16).astype("<u2")
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelData = high_bits.tobytes()
        copy = path.with_name(f"{path.stem}_16bit.dcm.tmp")
        ds.save_as(copy)
        try:
            return [f"(16-bit copy) {line}" for line in _dciodvfy_errors(copy)]
        finally:
            copy.unlink(missing_ok=True)
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    if result.returncode not in (0, 1) or (result.returncode == 1 and not errors):
        errors.append(f"dciodvfy exited with status {result.returncode}: {output[-300:]}")
    return errors


@pytest.fixture
def dciodvfy_errors() -> Callable[[Path], list[str]]:
    """A function giving dciodvfy's error lines for a DICOM file (see above)."""
    return _dciodvfy_errors
