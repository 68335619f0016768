"""DICOM UIDs: SOP classes ionbeam reads and writes, and new instance UIDs."""

from __future__ import annotations

import uuid

from pydicom.uid import UID

__all__ = [
    "CT_IMAGE_STORAGE",
    "RT_DOSE_STORAGE",
    "RT_ION_PLAN_STORAGE",
    "RT_STRUCTURE_SET_STORAGE",
    "make_uid",
]

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
RT_STRUCTURE_SET_STORAGE = UID("1.2.840.10008.5.1.4.1.1.481.3")
RT_DOSE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.481.2")
RT_ION_PLAN_STORAGE = UID("1.2.840.10008.5.1.4.1.1.481.8")

_NAMESPACE = uuid.UUID("6f0c3d52-4b1e-5a8e-9d7c-1a2b3c4d5e6f")


def make_uid(*entropy: object) -> UID:
    """A new UID in the UUID-derived ``2.25.`` root (DICOM PS3.5 B.2).

    With ``entropy`` (any values, joined by their ``str``) the UID is a
    deterministic name-based UUID (version 5), so re-exporting the same data
    gives the same UIDs; without, it is random (UUID version 4).
    """
    value = uuid.uuid5(_NAMESPACE, "|".join(map(str, entropy))) if entropy else uuid.uuid4()
    return UID(f"2.25.{value.int}")
