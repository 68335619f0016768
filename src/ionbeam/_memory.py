"""Will it fit? Memory estimates checked before the big allocations.

A run that would need more memory than the machine has is refused with
:class:`~ionbeam.errors.InsufficientMemoryError` and a hint, instead of being
killed by the operating system (or failing with a numpy allocation traceback)
minutes later. Available memory is ``MemAvailable`` of ``/proc/meminfo`` (Linux);
where that cannot be read no check is made. ``IONBEAM_MEMORY_LIMIT_GB`` lowers
the limit (e.g. to share a machine).

The per-voxel and per-entry figures are measured peaks of ionbeam's own code
(CPython 3.12, numpy 2): building a phantom peaks at about 18 bytes per CT voxel
(tg119, three structures; 24 used), planning at about 100 bytes per dose-grid
voxel before the influence is allocated, a dose-influence entry costs 4 bytes
of row index plus 4 bytes per stored quantity (dose, LET·dose, α·dose,
√β·dose), and the optimizer keeps one restricted copy of the matrices. The
old failure this prevents: the water phantom with ``--grid 0.5`` (46.7 million
voxels) ran out of 5 GB in the beam set-up with a numpy traceback.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ionbeam.errors import InsufficientMemoryError

__all__ = [
    "available_memory_bytes",
    "check_fits",
    "dose_grid_bytes",
    "influence_bytes",
]

#: Peak bytes per CT voxel while a phantom is built (HU, SPR, masks, temporaries).
PHANTOM_BYTES_PER_VOXEL = 24.0
#: Bytes per dose-grid voxel while planning: measured 95–100 bytes from the dose grid to
#: the influence allocation (water phantom, 2 and 1.25 mm grids: masks, ray set-up), plus
#: the final doses (three float64 volumes).
DOSE_GRID_BYTES_PER_VOXEL = 125.0
DOSE_GRID_BYTES_PER_STRUCTURE_VOXEL = 5.0
#: Copies of the influence matrices alive at once (the matrices and the optimizer's).
INFLUENCE_COPIES = 2


def available_memory_bytes() -> float | None:
    """Memory available to a new allocation, bytes (None: unknown)."""
    limit = os.environ.get("IONBEAM_MEMORY_LIMIT_GB")
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = float(line.split()[1]) * 1024.0
                break
    except (OSError, ValueError, IndexError):
        available = None
    if limit:
        try:
            cap = float(limit) * 1e9
        except ValueError:
            cap = math.inf
        available = cap if available is None else min(available, cap)
    return available


def check_fits(needed_bytes: float, *, what: str, hint: str) -> None:
    """Refuse when ``needed_bytes`` exceed the available memory."""
    available = available_memory_bytes()
    if available is None or needed_bytes <= available:
        return
    raise InsufficientMemoryError(
        f"{what} needs about {_gb(needed_bytes)} of memory but {_gb(available)} is "
        f"available; {hint}"
    )


def dose_grid_bytes(n_voxels: int, n_structures: int) -> float:
    """Memory of the per-voxel arrays of a plan on a dose grid of ``n_voxels``."""
    per_voxel = DOSE_GRID_BYTES_PER_VOXEL + DOSE_GRID_BYTES_PER_STRUCTURE_VOXEL * n_structures
    return float(n_voxels) * per_voxel


def influence_bytes(n_entries: int, n_quantities: int) -> float:
    """Memory of dose-influence matrices with ``n_entries`` stored voxels (all spots) and
    ``n_quantities`` values per entry, with the optimizer's copy."""
    return float(n_entries) * (4.0 + 4.0 * n_quantities) * INFLUENCE_COPIES


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.3g} GB"
