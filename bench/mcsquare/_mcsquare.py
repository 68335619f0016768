"""MCsquare harness: fetch the binary, write its inputs, run it, read its dose back.

MCsquare (K. Souris et al., Med. Phys. 43 (2016) 2447; UCLouvain, Apache 2.0)
is a fast, validated proton Monte Carlo. Its Linux binaries ship inside the
PyPI wheel ``opentps-core==2.0.0``; :func:`mcsquare_dir` downloads that wheel
with ``pip download --no-deps`` into ``~/.cache/ionbeam-bench/mcsquare`` and
extracts only the MCsquare folder. Neither MCsquare nor OpenTPS is a
dependency of ionbeam; this harness is benchmark code.

The input formats (``config.txt``, the CT as MHD/raw, the Scanner's HU→density
and HU→material tables, the BDL and the PlanPencil) are as OpenTPS 2.0.0's
``mcsquareIO.py`` and MCsquare's own sources read and write them. Facts about
the shipped binary (``MCsquare_linux``, "Release 1.1") established by
experiment with this harness (``bench/mcsquare/check_conventions.py``):

* the CT volume is stored flipped in x and y relative to DICOM LPS; the
  isocentre is given in mm from the CT's corner with y flipped and x not;
* gantry and couch angles are IEC 61217 as in ionbeam, the spot (X, Y) are
  ionbeam's beam's-eye-view (x, y) and SMX/SMY its virtual source–axis
  distances (x, y);
* the BDL table must be sampled on a uniform 1 MeV grid of nominal energies
  (the binary indexes it by ``floor(E)``; other grids give NaN particles);
* ``EnergySpread`` is the rms energy spread in % of the nominal energy;
  spot size (mm), divergence (rad) and correlation describe the beam at the
  nozzle exit, from where particles fly straight (vacuum) to the CT box and
  lose energy in air on the way (MCsquare's ICRU air fit): keep the nozzle just
  outside the CT;
* spots are drawn with probability ∝ weight × ProtonsMU (we write ProtonsMU = 1,
  so weights are particles) and ``Dose.mhd`` is eV/g per simulated primary;
  the absolute dose of the plan is that × 1.602e-16 Gy/(eV/g) × Σ weights.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _mcsquare_inputs import (
    BeamDataLibrary,
    Field,
    Scanner,
    from_mcsquare_volume,
    write_bdl,
    write_mhd,
    write_plan,
)

from ionbeam.patient.grid import Grid

WHEEL_REQUIREMENT = "opentps-core==2.0.0"
WHEEL_FOLDER = "opentps/core/processing/doseCalculation/protons/MCsquare/"
DEFAULT_CACHE = (
    Path(os.environ.get("IONBEAM_BENCH_CACHE", Path.home() / ".cache" / "ionbeam-bench"))
    / "mcsquare"
)
#: Gy per (eV/g).
GY_PER_EV_PER_G = 1.602176634e-19 * 1.0e3


# -- installation ----------------------------------------------------------------------------
def mcsquare_dir(cache: Path = DEFAULT_CACHE) -> Path:
    """The extracted MCsquare folder (binaries, ``Materials/``), fetched once."""
    target = cache / "MCsquare"
    binary = target / "MCsquare_linux"
    if binary.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("opentps_core-2.0.0-*.whl"))
    if not wheels:
        print(f"downloading {WHEEL_REQUIREMENT} (MCsquare binaries, once) ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                WHEEL_REQUIREMENT,
                "-d",
                str(cache),
            ],
            check=True,
        )
        wheels = sorted(cache.glob("opentps_core-2.0.0-*.whl"))
    staging = Path(tempfile.mkdtemp(dir=cache))
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(WHEEL_FOLDER)]
        wheel.extractall(staging, members)
    extracted = staging / WHEEL_FOLDER
    for exe in extracted.glob("MCsquare_*"):
        exe.chmod(0o755)
    extracted.rename(target)  # atomic: a crash leaves no half-extracted folder
    shutil.rmtree(staging, ignore_errors=True)
    return target


def mcsquare_binary(folder: Path) -> Path:
    """The binary for this CPU: the generic one (the optimised builds refuse non-Intel CPUs)."""
    return folder / "MCsquare_linux"


def read_mhd(path: Path) -> tuple[np.ndarray, tuple[int, ...]]:
    """An MCsquare output MHD as an ionbeam ``[x, y, z]`` array (and its shape)."""
    header = dict(
        (k.strip(), v.strip())
        for k, v in (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    )
    shape = tuple(int(v) for v in header["DimSize"].split())
    dtype = {"MET_FLOAT": "<f4", "MET_DOUBLE": "<f8"}[header["ElementType"]]
    raw = path.parent / header["ElementDataFile"]
    data = np.fromfile(raw, dtype=dtype).reshape(shape, order="F")
    return from_mcsquare_volume(data), shape


# -- configuration and run -------------------------------------------------------------------
@dataclass(frozen=True)
class RunOptions:
    """``n_primaries`` (minimum, split in 10 batches), ``threads``, ``seed``,
    ``dose_to_water`` (MCsquare's post-processing conversion: dose to water instead of
    dose to medium), ``nuclear`` (nuclear interactions on)."""

    n_primaries: int = 1_000_000
    threads: int = 2
    seed: int = 1
    dose_to_water: bool = False
    nuclear: bool = True


def config_text(options: RunOptions, files: dict[str, str]) -> str:
    """MCsquare's ``config.txt``: every key it reads, written explicitly."""
    on = "True" if options.nuclear else "False"
    keys = {
        "Num_Threads": options.threads,
        "RNG_Seed": options.seed,
        "Num_Primaries": int(options.n_primaries),
        "E_Cut_Pro": 0.5,
        "D_Max": 0.2,
        "Epsilon_Max": 0.25,
        "Te_Min": 0.05,
        **files,
        "Simulate_Nuclear_Interactions": on,
        "Simulate_Secondary_Protons": on,
        "Simulate_Secondary_Deuterons": on,
        "Simulate_Secondary_Alphas": on,
        "4D_Mode": "False",
        "Robustness_Mode": "False",
        "Beamlet_Mode": "False",
        "Compute_stat_uncertainty": "True",
        "Stat_uncertainty": 0.0,
        "Ignore_low_density_voxels": "True",
        "Export_batch_dose": "False",
        "Max_Num_Primaries": 0,
        "Max_Simulation_time": 0,
        "Output_Directory": "Outputs",
        "Dose_MHD_Output": "True",
        "Energy_MHD_Output": "False",
        "LET_MHD_Output": "False",
        "Densities_Output": "False",
        "Materials_Output": "False",
        "Dose_to_Water_conversion": "PostProcessing" if options.dose_to_water else "Disabled",
        "Dose_Segmentation": "False",
        "Independent_scoring_grid": "False",
        "Export_Beam_dose": "False",
    }
    return "".join(f"{k} {v}\n" for k, v in keys.items())


@dataclass(frozen=True, eq=False)
class McResult:
    """MCsquare's dose (Gy, for the plan's weights in protons) on the CT grid, with the
    run's primaries, wall time (s), MCsquare's own statistical uncertainty estimate
    (%, its batch estimate over the high-dose voxels) and its log."""

    dose_gy: np.ndarray
    n_primaries: int
    seconds: float
    uncertainty_percent: float
    log: str = field(repr=False)


def run(
    hu: np.ndarray,
    grid: Grid,
    fields: Sequence[Field],
    bdl: BeamDataLibrary,
    scanner: Scanner,
    options: RunOptions,
    *,
    workdir: Path | None = None,
) -> McResult:
    """Simulate ``fields`` on the CT ``hu`` (ionbeam ``[x, y, z]``) and read the dose back."""
    folder = mcsquare_dir()
    keep = workdir is not None
    work = Path(workdir) if keep else Path(tempfile.mkdtemp(prefix="mcsquare-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        write_mhd(work / "CT.mhd", np.asarray(hu, dtype=np.float32), grid)
        density, material = scanner.write(work / "Scanner")
        write_bdl(work / "BDL.txt", bdl)
        write_plan(work / "Plan.txt", fields, grid)
        files = {
            "CT_File": "CT.mhd",
            "HU_Density_Conversion_File": str(density.relative_to(work)),
            "HU_Material_Conversion_File": str(material.relative_to(work)),
            "BDL_Machine_Parameter_File": "BDL.txt",
            "BDL_Plan_File": "Plan.txt",
        }
        (work / "config.txt").write_text(config_text(options, files))
        materials = scanner.materials_dir or folder / "Materials"
        env = dict(os.environ, MCsquare_Materials_Dir=str(materials))
        start = time.perf_counter()
        done = subprocess.run(
            [str(mcsquare_binary(folder)), "config.txt"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        log = done.stdout + done.stderr
        _check_log(done.returncode, log, work)
        dose, _ = read_mhd(work / "Outputs" / "Dose.mhd")
        total = sum(float(np.sum(f.weight)) for f in fields)
        return McResult(
            dose.astype(np.float64) * GY_PER_EV_PER_G * total,
            _simulated(log),
            seconds,
            _uncertainty(log),
            log,
        )
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def cached_run(
    hu: np.ndarray,
    grid: Grid,
    fields: Sequence[Field],
    bdl: BeamDataLibrary,
    scanner: Scanner,
    options: RunOptions,
    *,
    cache: Path = DEFAULT_CACHE / "runs",
) -> McResult:
    """:func:`run`, with the result kept on disk under a hash of every input."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(hu, dtype=np.float32).tobytes())
    digest.update(repr((grid.shape, grid.spacing_mm, grid.origin_mm, options)).encode())
    for f in fields:
        digest.update(repr((f.gantry_deg, f.couch_deg, f.isocenter_mm)).encode())
        for array in (f.energy_mev, f.x_mm, f.y_mm, f.weight):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    table = bdl.on_mev_grid()
    for array in (
        table.nominal_energy_mev,
        table.mean_energy_mev,
        table.energy_spread_percent,
        table.sigma_mm,
        table.divergence_rad,
        table.correlation,
    ):
        digest.update(np.asarray(array, dtype=np.float64).tobytes())
    digest.update(repr((bdl.nozzle_to_isocenter_mm, bdl.smx_mm, bdl.smy_mm)).encode())
    for array in (
        scanner.density_hu,
        scanner.density_g_cm3,
        scanner.material_hu,
        scanner.material_id,
    ):
        digest.update(np.asarray(array, dtype=np.float64).tobytes())
    digest.update(str(scanner.materials_dir).encode())
    path = cache / f"{digest.hexdigest()[:24]}.npz"
    if path.exists():
        with np.load(path) as stored:
            return McResult(
                stored["dose_gy"].astype(np.float64),
                int(stored["n_primaries"]),
                float(stored["seconds"]),
                float(stored["uncertainty_percent"]),
                str(stored["log"]),
            )
    result = run(hu, grid, fields, bdl, scanner, options)
    cache.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        staging,
        dose_gy=result.dose_gy.astype(np.float32),
        n_primaries=result.n_primaries,
        seconds=result.seconds,
        uncertainty_percent=result.uncertainty_percent,
        log=result.log,
    )
    staging.replace(path)
    return result


def _check_log(returncode: int, log: str, work: Path) -> None:
    problems = [line for line in log.splitlines() if "Error" in line or "Unknown tag" in line]
    if returncode != 0 or problems or "generated outside the geometry" in log:
        raise RuntimeError(
            f"MCsquare failed in {work} (exit {returncode}): "
            + ("; ".join(problems) or log.strip().splitlines()[-1])
        )


def _simulated(log: str) -> int:
    match = re.search(r"Nbr primaries simulated: (\d+)", log)
    return int(match.group(1)) if match else 0


def _uncertainty(log: str) -> float:
    values = re.findall(r"stat uncertainty: ([0-9.]+) %", log)
    return float(values[-1]) if values else math.nan
