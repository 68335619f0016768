"""Compact text encodings of volumes for the report's viewer.

A volume travels as base64 text of its zlib-compressed bytes, in numpy's C
order of ``[x, y, z]`` (the viewer indexes ``(i * ny + j) * nz + k``). Doses and
LET are quantized to uint16 with a scale (value = code × scale; the step is the
maximum / 65535, below 0.01 % of the maximum) and stored as all high bytes, then
all low bytes: the high bytes vary slowly, so they compress well. The viewer
decompresses with the browser's own ``DecompressionStream("deflate")``.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

__all__ = ["UINT16_MAX", "decode_uint16", "encode_uint8", "encode_uint16", "quantize"]

UINT16_MAX = 65535
_LEVEL = 6


def quantize(values: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` (≥ 0) as uint16 codes and the scale (value per code)."""
    array = np.asarray(values, dtype=np.float64)
    top = float(array.max()) if array.size else 0.0
    scale = top / UINT16_MAX if top > 0 else 1.0
    codes = np.rint(np.clip(array / scale, 0, UINT16_MAX)).astype(np.uint16)
    return codes, scale


def encode_uint16(codes: np.ndarray) -> str:
    """uint16 codes as base64 of the zlib stream of their high bytes, then low bytes."""
    flat = np.ascontiguousarray(codes, dtype=np.uint16).reshape(-1)
    shuffled = np.concatenate([(flat >> 8).astype(np.uint8), (flat & 0xFF).astype(np.uint8)])
    return base64.b64encode(zlib.compress(shuffled.tobytes(), _LEVEL)).decode("ascii")


def decode_uint16(text: str, size: int) -> np.ndarray:
    """The inverse of :func:`encode_uint16` (used by the tests)."""
    raw = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    high, low = raw[:size].astype(np.uint16), raw[size:].astype(np.uint16)
    return (high << 8) | low


def encode_uint8(values: np.ndarray) -> str:
    """uint8 values as base64 of their zlib stream."""
    flat = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1)
    return base64.b64encode(zlib.compress(flat.tobytes(), _LEVEL)).decode("ascii")
