"""Writing files and folders atomically: never a half-written output.

A file is written beside its destination under a temporary name and renamed
into place; a folder is filled as a temporary folder beside the destination
and renamed into place when complete. On any error the temporary file or
folder is removed and the destination is left as it was. Outputs get the
ordinary permissions of the process's umask (``mkstemp``/``mkdtemp`` alone
would make them private).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ionbeam.errors import ConfigError

__all__ = ["atomic_directory", "file_mode", "write_atomically", "write_text_atomically"]


def _umask() -> int:
    """The process's umask, read without changing it (Linux); 022 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def file_mode() -> int:
    """Permissions of an ordinary new file under the process's umask."""
    return 0o666 & ~_umask()


def _destination(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target} is a folder; give the path of the file to write")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"cannot write {target}: folder {folder} does not exist; create it first")
    return target


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[Path], None], *, overwrite: bool = True
) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    An existing ``path`` is refused unless ``overwrite``. Returns ``path``.
    """
    target = _destination(path)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; choose another file name or allow overwriting")
    folder = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, file_mode())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def atomic_directory(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir``.

    If the body raises, the temporary folder is removed and ``out_dir`` is left
    as it was. An existing non-empty ``out_dir`` is refused unless ``overwrite``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a folder; choose another output path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"output folder {out_dir} is not empty; choose a new folder or allow overwriting"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    backup = None
    if out_dir.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        os.replace(out_dir, backup / "old")
    os.replace(temporary, out_dir)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
