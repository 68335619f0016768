"""Which numba kernels a cold run compiles, for which signatures, and for how long.

Runs an ``ionbeam`` command in this process with an empty numba cache (and, unless
``--warm-tables DIR``, an empty ionbeam cache), listening to numba's
``numba:compile`` events, and prints per kernel: the number of signatures compiled,
the compile time (exclusive of kernels compiled inside it) and the signatures. A kernel
compiled for several signatures that differ only in int32/int64, array layout (C/A)
or read-only flags is a needless specialisation: each costs a full compile.

Each time is given twice: wall and the CPU time of the compiling thread (numba compiles
in the calling thread), the figure to compare on a machine shared with other jobs.

``--replay DIR`` compiles instead, in an empty numba cache and with nothing else
running in this process, every signature of ionbeam's kernels recorded in the numba
cache folder ``DIR`` (e.g. the ``NUMBA_CACHE_DIR`` of a demo run): the compile cost of
exactly that run's kernels, repeatable in a few tens of seconds, for comparing
decorator options.

Measured on 7 Dec 2026 (2 shared cores, load 6-10): ``--replay`` of a default ``ionbeam
demo``'s numba cache compiles 37 signatures of ionbeam's kernels (80 kernels with numba's
own, 186 signatures, no kernel of ionbeam's twice) in 63.6 CPU s (186 s wall):
``forward_dose`` 10.7, ``fill_layers`` 8.0, ``gather_halo`` 6.0, ``count_layers`` 4.4,
``ray_tables`` 3.1, ``wepl_lattice`` 2.3, ``active_rows_scatter`` 2.2,
``transport_secondaries`` 1.9, ``halo_widths`` 1.8. Profiled, a kernel's compile is mostly
numba's own Python passes (type inference, parfor conversion and its deep copies of the
IR), ~1/5 LLVM. Without ``inline="always"`` on the helpers the same replay took 53.5 CPU s,
but ``bench/dij.py`` then took 1.3x the CPU (carbon 6.10 against 4.58 and 4.64 CPU s), so
the helpers stay inlined; ``parallel=`` limited to ``prange`` (no array-expression parfors)
took 64.9 CPU s, no gain.

Where a parallel kernel's compile goes (coldstart, 7 Dec 2026): numba's parallel pipeline
outlines each ``prange`` body into a function of its own and passes it every array the
body reads; its cost grows with those arrays (a trivial body reading a tuple of 24 arrays
compiles in 0.9 s, 0.2 s without ``parallel``). The dose engine's kernels read ~50 arrays in
tuples. The layer kernels, the forward dose, the ray tables, the WEPL lattice, its
interpolation and the chunked CSC product now run plain ``nogil`` kernels on threads
(``planning._strips``), compiled with ``error_model="numpy"`` and, where they allocate
nothing, ``_nrt=False`` (as fast as the ``prange`` bodies; with reference counting the
forward dose ran 2.4x slower). A cold demo (2 shared cores, load 5-12), listener per
kernel: before, 53.9 CPU s of compiling (``forward_dose`` 7.9, ``fill_layers`` 6.8,
``count_layers`` 4.0, ``ray_tables`` 2.4, ``wepl_lattice`` 1.8, ``csc_times_chunked`` 1.3,
``interpolate_lattice_points``/``lattice_at``/``voxel_fan`` 2.1); the layer kernels alone
(same beam, fresh cache) 14.8 -> 6.2 CPU s; ``--replay`` of a demo's cache 58.5, 56.8 -> 35.8,
40.3 CPU s (two interleaved rounds). Every ionbeam kernel compiles for one
signature in a demo (``sigs`` 1): no duplicate specialisations to remove.

The halo kernels (demospeed, 8 Dec 2026): ``gather_layers``, ``disc_sums`` and
``filtered_maps`` (and the reference's ``gather_halo``, ``halo_widths``; the ray tracer's
``wepl_at_distances``, ``interpolate_lattice``, ``wepl_per_voxel``) are strip kernels too.
``--replay`` of a demo's cache, side by side (2 shared cores, load 12-18): 52.0 CPU s
before (``gather_layers`` 8.12, ``disc_sums`` 3.58, ``filtered_maps`` 2.66) -> 41.9 after
(the gather's strip 4.00, the filter's 0.50, the disc chunks' 0.49, the splat's 0.33); an
earlier before-replay at load ~8: 49.7. The optimizer's product kernels are the last
``prange`` kernels a demo compiles (``active_rows_scatter`` 2.3-2.4 CPU s).

Usage: python bench/numba_compile.py [--warm-tables DIR] [--top 30] -- demo --quick
(the command after ``--``; an ``--out`` folder is added in a temporary folder), or
python bench/numba_compile.py --replay NUMBA_CACHE_DIR [--top 30].
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-tables", type=Path, help="an ionbeam cache folder to reuse")
    parser.add_argument("--top", type=int, default=40, help="kernels to list")
    parser.add_argument("--replay", type=Path, help="compile the signatures cached in DIR")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the ionbeam command")
    args = parser.parse_args()
    command = [word for word in args.command if word != "--"] or ["demo", "--quick"]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["NUMBA_CACHE_DIR"] = str(root / "numba")  # before numba is imported
        if args.replay is not None:
            _replay(args.replay, args.top)
            return
        os.environ["IONBEAM_CACHE_DIR"] = str(args.warm_tables or root / "tables")
        os.environ.setdefault("IONBEAM_PROGRESS", "0")
        _profile([*command, "--out", str(root / "out")], args.top)


def _profile(command: list[str], top: int) -> None:
    from numba.core import event

    from ionbeam.cli.main import main as ionbeam_main

    listener = _listener()
    start, cpu = time.perf_counter(), time.process_time()
    with event.install_listener("numba:compile", listener):
        try:
            ionbeam_main(command)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"ionbeam {' '.join(command[:-2])}: {wall:.1f} s wall ({cpu:.1f} CPU s, all threads)")
    listener.report(top)


def _replay(cache: Path, top: int) -> None:
    """Compile every signature of ionbeam's kernels that ``cache`` holds."""
    import numba
    from numba.core import event
    from numba.core.caching import FunctionCache

    kernels = []
    for dispatcher in _dispatchers():
        saved, numba.config.CACHE_DIR = numba.config.CACHE_DIR, str(cache)
        try:
            index = FunctionCache(dispatcher.py_func)._cache_file._load_index()
        finally:
            numba.config.CACHE_DIR = saved
        kernels += [(dispatcher, key[0]) for key in index]
    listener = _listener()
    start, cpu = time.perf_counter(), time.process_time()
    with event.install_listener("numba:compile", listener):
        for dispatcher, signature in kernels:
            dispatcher.compile(signature)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"replay of {len(kernels)} cached signatures: {wall:.1f} s wall, {cpu:.1f} CPU s")
    listener.report(top)


def _dispatchers() -> list[object]:
    """Every numba dispatcher defined in an ``ionbeam`` module (all modules imported)."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import ionbeam

    found = []
    for info in pkgutil.walk_packages(ionbeam.__path__, "ionbeam."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == info.name:
                found.append(value)
    return found


def _listener() -> Any:
    """A listener of ``numba:compile`` events: exclusive compile time per kernel (wall
    and this thread's CPU) and its signatures."""
    from numba.core import event

    class Listener(event.Listener):
        def __init__(self) -> None:
            self.stack: list[list[float]] = []  # [start wall, start cpu, nested wall, nested cpu]
            self.wall: dict[str, float] = defaultdict(float)
            self.cpu: dict[str, float] = defaultdict(float)
            self.signatures: dict[str, list[str]] = defaultdict(list)

        def on_start(self, ev: event.Event) -> None:
            self.stack.append([time.perf_counter(), time.thread_time(), 0.0, 0.0])

        def on_end(self, ev: event.Event) -> None:
            start, start_cpu, nested, nested_cpu = self.stack.pop()
            wall, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
            if self.stack:
                self.stack[-1][2] += wall
                self.stack[-1][3] += cpu
            dispatcher = ev.data["dispatcher"]
            name = f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"
            self.wall[name] += wall - nested
            self.cpu[name] += cpu - nested_cpu
            self.signatures[name].append(", ".join(str(a) for a in ev.data["args"]))

        def report(self, top: int) -> None:
            n_sigs = sum(len(s) for s in self.signatures.values())
            print(
                f"compiling: {sum(self.wall.values()):.1f} s wall, "
                f"{sum(self.cpu.values()):.1f} CPU s; "
                f"{len(self.wall)} kernels, {n_sigs} signatures\n"
            )
            print("    CPU s   wall s  sigs  kernel")
            for name in sorted(self.cpu, key=self.cpu.__getitem__, reverse=True)[:top]:
                sigs = self.signatures[name]
                print(f"  {self.cpu[name]:7.2f}  {self.wall[name]:7.2f}  {len(sigs):4d}  {name}")
                if len(sigs) > 1:
                    for sig in sigs:
                        print(f"                          ({sig})")

    return Listener()


if __name__ == "__main__":
    sys.exit(main())
