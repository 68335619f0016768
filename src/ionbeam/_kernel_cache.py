"""Guard against numba cache entries compiled from an older version of ionbeam's kernels.

numba's on-disk cache (``cache=True``) decides that a kernel's compiled code is fresh from
the modification time and size of the kernel's *own* source file. A kernel that calls or
inlines a helper from another file (the spot kernels in ``planning/_layer_kernels.py`` read
``planning/_dose_kernels.py`` and ``planning/_range_mixing_kernels.py``) keeps its cached
code when only the helper's file changes: after a ``git pull`` into an editable install the
dose engine would then run the old helper, silently (one such run during development gave
doses ~20 % low). numba has no dependency tracking for this, so ionbeam fingerprints the
source of every kernel module together and, where a cache directory holds entries of an
other fingerprint, deletes ionbeam's entries there before any kernel is loaded: the next
call compiles afresh.

Each kernel module calls :func:`refresh_kernel_cache` on import; the work is done once per
process (hashing ~20 files and listing a few directories: about a millisecond).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["kernel_fingerprint", "kernel_modules", "kernels_cached", "refresh_kernel_cache"]

_PACKAGE = Path(__file__).resolve().parent
_STAMP_NAME = "ionbeam-kernels.fingerprint"
_done = False


def kernel_modules(package: Path = _PACKAGE) -> list[Path]:
    """Every source file of the package holding numba kernels or their shared helpers:
    ``_*kernels.py`` and the strip runner ``_strips.py``, sorted."""
    files = set(package.rglob("_*kernels.py")) | set(package.rglob("_strips.py"))
    return sorted(files)


def kernel_fingerprint(files: Sequence[Path]) -> str:
    """SHA-256 of the files' paths (relative to their common parent) and contents."""
    digest = hashlib.sha256()
    root = Path(os.path.commonpath([str(f) for f in files])) if files else _PACKAGE
    for path in sorted(files):
        digest.update(str(path.relative_to(root) if path != root else path.name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _probe() -> None:  # a function for numba's locators, which read its first line number
    return None


def _cache_directory(py_file: Path) -> Path | None:
    """The directory numba caches ``py_file``'s kernels in, found with numba's own locators
    (the order numba tries them: NUMBA_CACHE_DIR, the source's ``__pycache__``, the user's
    cache directory); None if numba cannot cache there."""
    from numba.core import caching

    locators = getattr(caching.CacheImpl, "_locator_classes", None)
    if locators is None:  # pragma: no cover - a numba without the locator list
        return None
    for locator_class in locators:
        locator = locator_class.from_function(_probe, str(py_file))
        if locator is not None:
            return Path(locator.get_cache_path())
    return None


def refresh_kernel_cache(files: Sequence[Path] | None = None, *, force: bool = False) -> list[Path]:
    """Delete ionbeam's numba cache entries compiled from other kernel sources.

    ``files`` defaults to :func:`kernel_modules`. For each cache directory the files'
    kernels are cached in, a stamp file records the fingerprint of the sources the entries
    there were compiled from; where it differs (or is missing while entries exist) the
    entries (``<module>.*.nbi`` / ``.nbc``) of these modules are deleted and the stamp is
    rewritten. Runs once per process unless ``force``. Returns the deleted paths.
    """
    global _done
    if _done and not force:
        return []
    _done = True
    files = kernel_modules() if files is None else list(files)
    if not files:
        return []
    fingerprint = kernel_fingerprint(files)
    by_directory: dict[Path, set[str]] = {}
    for py_file in files:
        directory = _cache_directory(py_file)
        if directory is not None:
            by_directory.setdefault(directory, set()).add(py_file.stem)
    deleted: list[Path] = []
    for directory, modules in by_directory.items():
        stamp = directory / _STAMP_NAME
        try:
            if stamp.read_text().strip() == fingerprint:
                continue
        except OSError:
            pass
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.suffix in (".nbi", ".nbc") and entry.name.split(".", 1)[0] in modules:
                # OSError: another process deleted it first, or a read-only cache
                with contextlib.suppress(OSError):
                    entry.unlink()
                    deleted.append(entry)
        with contextlib.suppress(OSError):  # a read-only cache: numba will not write there
            stamp.write_text(fingerprint + "\n")
    return deleted


def kernels_cached(files: Sequence[Path] | None = None) -> bool:
    """Whether numba's cache holds compiled code of any of ionbeam's kernels (after
    :func:`refresh_kernel_cache` has deleted stale entries): False on a cold start, when
    every kernel a run calls is compiled (tens of CPU seconds). ``files`` defaults to
    :func:`kernel_modules` (then stale entries are deleted first)."""
    if files is None:
        refresh_kernel_cache()
        files = kernel_modules()
    for py_file in files:
        directory = _cache_directory(py_file)
        if directory is None or not directory.is_dir():
            continue
        if any(directory.glob(f"{py_file.stem}.*.nbi")):
            return True
    return False
