"""Benchmark: writing and reading a realistic RT Ion Plan and RT Dose.

The plan has 3 carbon beams of 60 energy layers × 400 spots (72,000 spots in
all, the size of a large skull-base plan); the dose grid is 256 × 256 × 160
(10⁷ voxels). Prints seconds to build each dataset, write it and read it
back, the file sizes and peak memory (RSS).

Run: ``python bench/dicom_rt.py``.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from ionbeam.io.dicom import (
    StudyInfo,
    read_rt_dose,
    read_rt_ion_plan,
    rt_dose_dataset,
    rt_ion_plan_dataset,
    write_dicom_file,
)
from ionbeam.patient import Grid
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


def _plan(rng: np.random.Generator) -> Plan:
    beams = []
    for k, couch in enumerate((0.0, 30.0, 330.0)):
        energy = np.repeat(np.linspace(330.0, 120.0, 60), 400)
        n = energy.size
        spots = SpotMap(energy, rng.uniform(-60, 60, n), rng.uniform(-60, 60, n),
                        rng.uniform(1e4, 1e7, n))  # fmt: skip
        geometry = BeamGeometry(90.0, couch, (0.0, 0.0, 0.0), (6500.0, 7200.0))
        beams.append(Beam(f"beam {k + 1}", geometry, spots, ripple_filter=True))
    return Plan("carbon", tuple(beams), Prescription("CTV", 70.4, 16))


def _structure_set(study: StudyInfo):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = Dataset()
    ds.Modality = "RTSTRUCT"
    ds.SOPInstanceUID = "2.25.1"
    ds.StudyInstanceUID = study.study_instance_uid
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    roi = Dataset()
    roi.ROIName, roi.ROINumber = "CTV", 1
    ds.StructureSetROISequence = Sequence([roi])
    return ds


def _timed(label: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    print(f"{label:<28s} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    rng = np.random.default_rng(0)
    study = StudyInfo.new("bench", seed=0)
    plan = _plan(rng)
    grid = Grid((256, 256, 160), (1.5, 1.5, 2.0), (-192.0, -192.0, -160.0))
    dose = rng.uniform(0.0, 4.5, grid.shape)
    print(f"plan: {plan.n_spots} spots in {len(plan.beams)} beams; dose: {grid.size} voxels")
    with tempfile.TemporaryDirectory() as folder:
        ds = _timed("RT Ion Plan dataset", rt_ion_plan_dataset, plan, study=study,
                    structure_set=_structure_set(study))  # fmt: skip
        plan_path = _timed("RT Ion Plan write", write_dicom_file, ds, Path(folder) / "RP.dcm")
        _timed("RT Ion Plan read", read_rt_ion_plan, plan_path)
        rd = _timed("RT Dose dataset", rt_dose_dataset, dose, grid, study=study, rt_plan=ds)
        dose_path = _timed("RT Dose write", write_dicom_file, rd, Path(folder) / "RD.dcm")
        _timed("RT Dose read", read_rt_dose, dose_path)
        print(f"sizes: plan {plan_path.stat().st_size / 1e6:.2f} MB, "
              f"dose {dose_path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
