"""Which numba kernels a cold run compiles, for which signatures, and for how long.

Runs an ``ionbeam`` command in this process with an empty numba cache (and, unless
``--warm-tables DIR``, an empty ionbeam cache), listening to numba's
``numba:compile`` events, and prints per kernel: the number of signatures compiled,
the compile time (exclusive of kernels compiled inside it) and the signatures. A kernel
compiled for several signatures that differ only in int32/int64, array layout (C/A)
or read-only flags is a needless specialisation: each costs a full compile.

Usage: python bench/numba_compile.py [--warm-tables DIR] [--top 30] -- demo --quick
(the command after ``--``; an ``--out`` folder is added in a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-tables", type=Path, help="an ionbeam cache folder to reuse")
    parser.add_argument("--top", type=int, default=40, help="kernels to list")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the ionbeam command")
    args = parser.parse_args()
    command = [word for word in args.command if word != "--"] or ["demo", "--quick"]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["NUMBA_CACHE_DIR"] = str(root / "numba")  # before numba is imported
        os.environ["IONBEAM_CACHE_DIR"] = str(args.warm_tables or root / "tables")
        os.environ.setdefault("IONBEAM_PROGRESS", "0")
        _profile([*command, "--out", str(root / "out")], args.top)


def _profile(command: list[str], top: int) -> None:
    from numba.core import event

    from ionbeam.cli.main import main as ionbeam_main

    stack: list[list[float]] = []  # [start, time spent in nested compiles]
    seconds: dict[str, float] = defaultdict(float)
    signatures: dict[str, list[str]] = defaultdict(list)

    class Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            stack.append([time.perf_counter(), 0.0])

        def on_end(self, ev: event.Event) -> None:
            start, nested = stack.pop()
            spent = time.perf_counter() - start
            if stack:
                stack[-1][1] += spent
            dispatcher = ev.data["dispatcher"]
            name = f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"
            seconds[name] += spent - nested
            signatures[name].append(", ".join(str(a) for a in ev.data["args"]))

    start = time.perf_counter()
    with event.install_listener("numba:compile", Listener()):
        try:
            ionbeam_main(command)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise
    wall = time.perf_counter() - start
    total = sum(seconds.values())
    n_sigs = sum(len(s) for s in signatures.values())
    print(f"ionbeam {' '.join(command[:-2])}: {wall:.1f} s wall, {total:.1f} s compiling")
    print(f"{len(seconds)} kernels, {n_sigs} signatures compiled\n")
    for name in sorted(seconds, key=seconds.get, reverse=True)[:top]:  # type: ignore[arg-type]
        sigs = signatures[name]
        print(f"{seconds[name]:7.2f} s  {len(sigs)} sig  {name}")
        if len(sigs) > 1:
            for sig in sigs:
                print(f"             ({sig})")


if __name__ == "__main__":
    sys.exit(main())
