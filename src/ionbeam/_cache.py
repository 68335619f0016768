"""An on-disk cache for expensive, reproducible tables (beam models, range tables).

The cache lives in the user's cache directory (``platformdirs``), or in
``IONBEAM_CACHE_DIR`` when set; ``IONBEAM_CACHE=0`` turns it off. It is never
required: a missing, unreadable or unwritable cache only costs time. Entries
are ``.npz`` files named by a hash of everything that determines their
content (the caller builds the key, including ``ionbeam.__version__``), and
are written atomically so that a crash never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, cast

import numpy as np
from platformdirs import user_cache_dir

from ionbeam._atomic import write_atomically
from ionbeam.errors import ConfigError

__all__ = ["cache_dir", "cache_enabled", "cache_key", "clear_cache", "load_arrays", "save_arrays"]


def cache_enabled() -> bool:
    """Whether the disk cache is used."""
    return os.environ.get("IONBEAM_CACHE", "1").strip().lower() not in {"0", "false", "no"}


def cache_dir() -> Path:
    """The cache directory (not created here)."""
    override = os.environ.get("IONBEAM_CACHE_DIR")
    return Path(override) if override else Path(user_cache_dir("ionbeam"))


def cache_key(namespace: str, **parts: Any) -> str:
    """A file-name-safe key from a namespace and JSON-serialisable parts."""
    from ionbeam import __version__

    payload = json.dumps({"v": __version__, **parts}, sort_keys=True, default=repr)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:24]
    return f"{namespace}-{digest}"


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or None when absent, unreadable or disabled."""
    if not cache_enabled():
        return None
    path = cache_dir() / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        return None


def save_arrays(key: str, arrays: dict[str, np.ndarray]) -> None:
    """Store ``arrays`` under ``key`` atomically; silently skip when the cache is unusable."""
    if not cache_enabled():
        return
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / f"{key}.npz", lambda tmp: _save_npz(tmp, arrays))
    except (OSError, ConfigError):
        return


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **cast("dict[str, Any]", arrays))


def clear_cache() -> int:
    """Delete every cache entry; returns how many files were removed."""
    removed = 0
    directory = cache_dir()
    if directory.is_dir():
        for path in directory.glob("*.npz"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
