"""TG-119, whole process, with the default halo correction and with the reference one.

Runs ``bench/compare_pyradplan.py``'s ionbeam worker (pyRadPlan's exported TG-119 CT,
5 mm spots and dose grid, spots + dose influence + optimization with the halo leg, as
``ionbeam plan`` optimizes) in a fresh process per run, alternating the default halo
correction (``planning/halo.py``: 3 pixels per σ, the disc halo from the matrix's
shares) and the reference one (``bench/_halo_reference.py``: 6 pixels per σ, the disc
matrix-free), and prints per run wall and CPU s, iterations and the target's D95 / D5
and the core's mean on the CT grid (fractions of the prescription).

Usage: ``python bench/halo_tg119.py NPZ PARTICLE [--setting rtol=3e-3] [--repeat 2]``
(NPZ: written by ``bench/compare_pyradplan.py --workdir``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(npz: str, particle: str, setting: str, reference: bool) -> dict:
    """One ionbeam run (in this process)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    sys.path.insert(0, str(HERE))
    if reference:
        from _halo_reference import use_reference_halo

        use_reference_halo()
    from compare_pyradplan import ionbeam_worker

    return ionbeam_worker(npz, particle, 5.0, setting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz")
    parser.add_argument("particle", choices=("proton", "carbon"))
    parser.add_argument("--setting", default="rtol=3e-3")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--worker", choices=("default", "reference"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.npz, args.particle, args.setting, args.worker == "reference")
        print(json.dumps(result))
        return
    for _ in range(args.repeat):
        for halo in ("reference", "default"):
            command = [sys.executable, __file__, args.npz, args.particle,
                       "--setting", args.setting, "--worker", halo]  # fmt: skip
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rest = {k: v for k, v in r.items() if k not in ("stf_s", "dij_s", "opt_s", "cpu_s")}
            print(f"{halo:9s} wall {r['stf_s'] + r['dij_s'] + r.get('opt_s', 0.0):.2f} s "
                  f"(dij {r['dij_s']:.2f}, opt {r.get('opt_s', 0.0):.2f}), CPU {r['cpu_s']:.2f} s, "
                  f"{json.dumps(rest)}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
