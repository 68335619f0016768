"""The guard against numba cache entries of older kernel sources (`ionbeam._kernel_cache`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import pytest

from ionbeam import _kernel_cache
from ionbeam._kernel_cache import kernel_fingerprint, kernel_modules, refresh_kernel_cache


def test_every_numba_module_is_fingerprinted() -> None:
    """A module that compiles kernels but is left out of the fingerprint could go stale."""
    package = Path(_kernel_cache.__file__).parent
    listed = set(kernel_modules())
    for path in package.rglob("*.py"):
        text = path.read_text()
        if "numba.njit" in text or "from numba import njit" in text or "strip_kernel" in text:
            assert path in listed, f"{path} compiles numba kernels but is not fingerprinted"


def test_fingerprint_follows_every_file(tmp_path: Path) -> None:
    a, b = tmp_path / "_a_kernels.py", tmp_path / "_b_kernels.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    before = kernel_fingerprint([a, b])
    assert kernel_fingerprint([b, a]) == before
    b.write_text("y = 3\n")
    assert kernel_fingerprint([a, b]) != before


def test_entries_of_other_sources_are_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "pkg" / "_a_kernels.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    refresh_kernel_cache([source], force=True)
    directory = _kernel_cache._cache_directory(source)
    assert directory is not None and directory.is_relative_to(tmp_path / "cache")
    ours = [directory / "_a_kernels.f-3.py312.nbi", directory / "_a_kernels.f-3.py312.1.nbc"]
    other = directory / "elsewhere.g-1.py312.nbi"
    for path in [*ours, other]:
        path.write_bytes(b"cached")

    assert refresh_kernel_cache([source], force=True) == []  # same sources: kept
    assert all(path.exists() for path in ours)

    source.write_text("x = 2\n")
    assert sorted(refresh_kernel_cache([source], force=True)) == sorted(ours)
    assert not any(path.exists() for path in ours)
    assert other.exists()  # another module's entries are not ionbeam's to delete


_HELPER = """
import numba

@numba.njit(cache=True, inline="always")
def helper():
    return {value}
"""

_CALLER = """
import numba
from _h_kernels import helper

@numba.njit(cache=True)
def kernel():
    return helper() * 10
"""


def _run(package: Path, cache: Path, guard: bool) -> int:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(package)!r})
        from ionbeam._kernel_cache import refresh_kernel_cache
        if {guard!r}:
            refresh_kernel_cache(sorted(Path({str(package)!r}).glob("_*kernels.py")))
        import _c_kernels
        print(_c_kernels.kernel())
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip().splitlines()[-1])


def test_a_changed_helper_in_another_file_is_recompiled(tmp_path: Path) -> None:
    """numba judges a cached kernel fresh by its own file only: after the helper's file
    changes, the caller would still run the old helper. With the guard it runs the new."""
    package, cache = tmp_path / "pkg", tmp_path / "cache"
    package.mkdir()
    helper = package / "_h_kernels.py"
    helper.write_text(_HELPER.format(value=1))
    (package / "_c_kernels.py").write_text(_CALLER)
    assert _run(package, cache, guard=True) == 10

    helper.write_text(_HELPER.format(value=2))
    assert _run(package, cache, guard=True) == 20


def test_kernels_cached_sees_index_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold cache (no ``.nbi`` of the kernel modules, another module's entries aside)
    is told apart from one holding a kernel's index."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "pkg" / "_a_kernels.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    assert not _kernel_cache.kernels_cached([source])
    directory = _kernel_cache._cache_directory(source)
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "elsewhere.g-1.py312.nbi").write_bytes(b"cached")
    assert not _kernel_cache.kernels_cached([source])
    (directory / "_a_kernels.f-3.py312.nbi").write_bytes(b"cached")
    assert _kernel_cache.kernels_cached([source])
