"""The strip runner of the planning kernels: :mod:`ionbeam._strips` (shared with the
evaluation's gamma kernel, which may not import ``planning``)."""

from __future__ import annotations

from ionbeam._strips import strip_kernel, strips

__all__ = ["strip_kernel", "strips"]
