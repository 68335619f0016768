"""Volumes that are not doses (LET_d) as MetaImage files (``.mha``: ITK/VTK MetaIO).

A DICOM RT Dose is read by every planning system and viewer as a dose of the
plan, whatever its units or comments say, so LET_d is not written as one.
MetaImage is the simplest well-defined format that carries the grid: 3D
Slicer, ITK/SimpleITK, plastimatch, MeVisLab and ParaView read it. A
single-file ``.mha`` holds a text header, then the voxels:

- ``ElementType MET_FLOAT`` (32-bit IEEE, little endian), x fastest, then y,
  then z (the [x, y, z] array of ionbeam in Fortran order);
- ``Offset``: the centre of voxel [0, 0, 0] in mm, ``ElementSpacing`` in mm,
  ``TransformMatrix`` identity and ``AnatomicalOrientation RAI`` (ITK's name
  for the DICOM LPS axes), so the image overlays the CT and RT Dose;
- the unit is not in the header (MetaIO has no field for it): ionbeam writes
  LET_d in keV/µm, as the docs say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ionbeam._atomic import write_atomically
from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.patient.grid import Grid

__all__ = ["MetaImage", "read_metaimage", "write_metaimage"]

_HEADER_END = "ElementDataFile = LOCAL\n"


@dataclass(frozen=True, eq=False)
class MetaImage:
    """A volume ``values`` [x, y, z] (float32) on ``grid``."""

    values: np.ndarray
    grid: Grid


def write_metaimage(path: str | Path, values: np.ndarray, grid: Grid) -> Path:
    """Write ``values`` [x, y, z] on ``grid`` as the single-file MetaImage ``path``
    (atomically; an existing file is refused)."""
    volume = np.asarray(values, dtype=np.float64)
    if volume.shape != grid.shape:
        raise GridMismatchError(f"the volume is {volume.shape} but the grid is {grid.shape}")
    if not np.all(np.isfinite(volume)):
        raise ConfigError("the volume holds NaN or infinity; recompute it before export")
    header = "".join(
        f"{key} = {value}\n"
        for key, value in (
            ("ObjectType", "Image"),
            ("NDims", 3),
            ("BinaryData", "True"),
            ("BinaryDataByteOrderMSB", "False"),
            ("CompressedData", "False"),
            ("TransformMatrix", "1 0 0 0 1 0 0 0 1"),
            ("Offset", " ".join(f"{v:.6f}" for v in grid.origin_mm)),
            ("CenterOfRotation", "0 0 0"),
            ("AnatomicalOrientation", "RAI"),
            ("ElementSpacing", " ".join(f"{v:.6f}" for v in grid.spacing_mm)),
            ("DimSize", " ".join(str(n) for n in grid.shape)),
            ("ElementType", "MET_FLOAT"),
        )
    )
    data = header.encode("ascii") + _HEADER_END.encode("ascii")
    data += volume.astype("<f4").tobytes(order="F")
    return write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))


def read_metaimage(path: str | Path) -> MetaImage:
    """Read a single-file MetaImage written by :func:`write_metaimage` (3D, MET_FLOAT,
    little endian, identity transform)."""
    data = Path(path).read_bytes()
    end = data.find(_HEADER_END.encode("ascii"))
    if end < 0:
        raise ConfigError(f"{path} is not a single-file MetaImage (no ElementDataFile = LOCAL)")
    fields = dict(
        line.split(" = ", 1) for line in data[:end].decode("ascii").splitlines() if " = " in line
    )
    expected = {"NDims": "3", "ElementType": "MET_FLOAT", "BinaryDataByteOrderMSB": "False",
                "TransformMatrix": "1 0 0 0 1 0 0 0 1", "CompressedData": "False"}  # fmt: skip
    wrong = [k for k, v in expected.items() if fields.get(k, v) != v]
    if wrong:
        raise ConfigError(f"{path}: unsupported MetaImage ({', '.join(wrong)}); need {expected}")
    shape = tuple(int(v) for v in fields["DimSize"].split())
    spacing = tuple(float(v) for v in fields["ElementSpacing"].split())
    origin = tuple(float(v) for v in fields["Offset"].split())
    raw = np.frombuffer(data[end + len(_HEADER_END) :], dtype="<f4")
    if raw.size != int(np.prod(shape)):
        raise ConfigError(f"{path}: {raw.size} values for a {shape} grid; the file is truncated")
    values = raw.reshape(shape, order="F").astype(np.float32)
    three_floats = tuple[float, float, float]  # Grid checks that there are three of each
    grid = Grid(
        cast("tuple[int, int, int]", shape),
        cast(three_floats, spacing),
        cast(three_floats, origin),
    )
    return MetaImage(values, grid)
