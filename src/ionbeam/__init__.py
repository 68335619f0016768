"""ionbeam: ion-beam therapy from the synchrotron to the patient.

Physics of protons and ions in matter, a PIMMS/CNAO-type synchrotron, the
patient model, treatment planning, spill-by-spill delivery and evaluation.
See ``DESIGN`` in the documentation for the architecture and conventions
(millimetres, MeV/u, Gy, particles; volumes indexed [x, y, z] in DICOM LPS).

The front door (:mod:`ionbeam.workflow`) is re-exported here: ``load_patient``,
``plan_from_file``, ``resolve_inputs``, ``make_plan``, ``recompute_dose``, ``evaluate``,
``evaluate_robustness``, ``write_outputs``, ``deliver`` and the types ``PlanInputs``,
``PlanOutcome``, ``RecomputeOptions``. They are imported on first use, so that
``import ionbeam`` (and ``ionbeam --help``) stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ionbeam.errors import IonbeamError

# numba's OpenMP threads spin between parallel regions unless told to wait passively:
# on a busy machine one optimizer evaluation then took ~340 ms instead of 6–15 ms. It
# must be set before the first parallel kernel runs, so it is set on import (a value
# the user exported is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

if TYPE_CHECKING:
    from ionbeam.workflow import (
        PlanInputs as PlanInputs,
    )
    from ionbeam.workflow import (
        PlanOutcome as PlanOutcome,
    )
    from ionbeam.workflow import (
        RecomputeOptions as RecomputeOptions,
    )
    from ionbeam.workflow import (
        deliver as deliver,
    )
    from ionbeam.workflow import (
        evaluate as evaluate,
    )
    from ionbeam.workflow import (
        evaluate_robustness as evaluate_robustness,
    )
    from ionbeam.workflow import (
        load_patient as load_patient,
    )
    from ionbeam.workflow import (
        make_plan as make_plan,
    )
    from ionbeam.workflow import (
        plan_from_file as plan_from_file,
    )
    from ionbeam.workflow import (
        recompute_dose as recompute_dose,
    )
    from ionbeam.workflow import (
        resolve_inputs as resolve_inputs,
    )
    from ionbeam.workflow import (
        write_outputs as write_outputs,
    )

#: The names of :mod:`ionbeam.workflow` re-exported here (imported on first use).
_WORKFLOW = (
    "PlanInputs",
    "PlanOutcome",
    "RecomputeOptions",
    "deliver",
    "evaluate",
    "evaluate_robustness",
    "load_patient",
    "make_plan",
    "plan_from_file",
    "recompute_dose",
    "resolve_inputs",
    "write_outputs",
)

__all__ = ["IonbeamError", "__version__", *_WORKFLOW]


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed metadata on first use (importing
    :mod:`importlib.metadata` costs ~0.1 s, which ``ionbeam --help`` need not pay), and
    the front door's names, imported from :mod:`ionbeam.workflow` on first use."""
    if name in _WORKFLOW:
        import ionbeam.workflow

        value: Any = getattr(ionbeam.workflow, name)
        globals()[name] = value
        return value
    if name != "__version__":
        raise AttributeError(f"module 'ionbeam' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("ionbeam")
    except PackageNotFoundError:  # running from a source tree without installation
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
