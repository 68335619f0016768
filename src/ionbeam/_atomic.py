"""Writing files and folders atomically: never a half-written output.

A file is written beside its destination under a temporary name and renamed
into place; a folder is filled as a temporary folder beside the destination
and renamed into place when complete. On any error the temporary file or
folder is removed and the destination is left as it was. Outputs get the
ordinary permissions of the process's umask (``mkstemp``/``mkdtemp`` alone
would make them private).

Temporaries are named ``.<name>.ionbeam-tmp-<pid>-<random>`` (``ionbeam-old``
for the replaced folder while it is swapped out), so that those of a run that
was killed can be recognised and removed by a later run: only names of this
pattern whose process no longer runs (:func:`remove_stale_temporaries`).
:func:`check_output_folder` refuses, before any work, an output folder that
would destroy an input, the current folder, or one that cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ionbeam.errors import ConfigError

__all__ = [
    "atomic_directory",
    "check_output_folder",
    "file_mode",
    "remove_stale_temporaries",
    "write_atomically",
    "write_text_atomically",
]

#: Names of the temporaries this module creates: ``.<name>.ionbeam-<tmp|old>-<pid>-<random>``.
_TEMPORARY = re.compile(r"^\..*\.ionbeam-(?:tmp|old)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+(?:\.tmp)?$")


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
    path: str | os.PathLike[str], write: Callable[[Path], object], *, overwrite: bool = True
) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    An existing ``path`` is refused unless ``overwrite``. Returns ``path``.
    """
    target = _destination(path)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; choose another file name or allow overwriting")
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_temporaries(folder)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=_prefix(target.name, "tmp"), suffix=".tmp"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {_reason(exc)}; {_WRITABLE}") from None
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


def check_output_folder(
    out_dir: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    overwrite: bool = False,
) -> Path:
    """Refuse ``out_dir`` (before any work) when writing it could destroy something or fail.

    Refused: a path that is not a folder; a non-empty folder unless ``overwrite``; a
    folder that is, contains or lies inside one of ``inputs`` (files or folders the
    run reads; None entries are skipped) or the current folder (it would be replaced
    as a whole); a folder whose nearest existing parent cannot be written. Returns
    ``out_dir`` resolved."""
    out = Path(out_dir).expanduser().resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item).expanduser().resolve()
        relation = _relation(out, source)
        if relation:
            raise ConfigError(
                f"output folder {out_dir} {relation} the input {item}; writing it would "
                "delete or mix with the input: choose a new folder outside the inputs"
            )
    if _relation(out, Path.cwd().resolve()) in ("is", "contains"):
        raise ConfigError(
            f"output folder {out_dir} is or contains the current folder, which would be "
            "replaced as a whole; choose a new sub-folder (e.g. --out results)"
        )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a folder; choose another output path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(
            f"output folder {out_dir} is not empty; choose a new folder or allow "
            "overwriting (--force)"
        )
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create {out_dir}: {parent} is not a writable folder; "
                          "choose an output folder you can write to")  # fmt: skip
    return out


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries this module left in ``folder`` from runs that were killed:
    only entries named as it names them whose process id no longer runs. Returns them."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _process_runs(int(match["pid"])):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_directory(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir``.

    If the body raises, the temporary folder is removed and ``out_dir`` is left
    as it was. ``out_dir`` is checked by :func:`check_output_folder` (a non-empty
    one is refused unless ``overwrite``); stale temporaries of killed runs beside
    it are removed first.
    """
    out_dir = check_output_folder(out_dir, overwrite=overwrite)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir.parent)
        temporary = Path(tempfile.mkdtemp(prefix=_prefix(out_dir.name, "tmp"), dir=out_dir.parent))
    except OSError as exc:
        raise ConfigError(f"cannot create {out_dir}: {_reason(exc)}; {_WRITABLE}") from None
    backup = None
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())
        if out_dir.exists():
            backup = Path(tempfile.mkdtemp(prefix=_prefix(out_dir.name, "old"), dir=out_dir.parent))
            os.replace(out_dir, backup / "old")
        try:
            os.replace(temporary, out_dir)
        except BaseException:
            if backup is not None:
                os.replace(backup / "old", out_dir)
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)


_WRITABLE = "choose an output folder you can write to"


def _prefix(name: str, kind: str) -> str:
    return f".{name}.ionbeam-{kind}-{os.getpid()}-"


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else type(exc).__name__


def _relation(out: Path, source: Path) -> str:
    """How the (resolved) output folder stands to a (resolved) input: "is", "contains",
    "lies inside" or "" (unrelated)."""
    if out == source:
        return "is"
    if out in source.parents:
        return "contains"
    if source in out.parents and source.is_dir():
        return "lies inside"
    return ""


def _process_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process (or an impossible pid: treat as alive)
    return True
