"""Maximum value lengths of the DICOM text value representations (PS3.5 Table 6.2-1).

ionbeam clips the free text it makes itself (descriptions, labels) with
:func:`clip_text`, checks identities it takes from the user or the input
(patient name and ID) where it reads them, and :func:`check_value_lengths`
refuses any dataset that still holds a value too long for its VR before it is
written, so that no file with such a value leaves ionbeam.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from ionbeam.errors import DicomError

__all__ = ["MAX_LENGTH", "check_value_lengths", "clip_text", "text_too_long"]

#: Maximum characters of one value, per VR (PN: per component group).
MAX_LENGTH: dict[str, int] = {
    "AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64,
    "LT": 10240, "PN": 64, "SH": 16, "ST": 1024, "TM": 14, "UI": 64,
}  # fmt: skip


def clip_text(text: str, vr: str) -> str:
    """``text`` cut to the maximum length of ``vr`` (for free text ionbeam writes)."""
    return str(text)[: MAX_LENGTH[vr]]


def text_too_long(text: str, vr: str) -> int | None:
    """The length of the offending part of ``text`` when it is too long for ``vr``."""
    parts = str(text).split("=") if vr == "PN" else [str(text)]
    longest = max(len(p) for p in parts)
    return longest if longest > MAX_LENGTH[vr] else None


def check_value_lengths(dataset: Dataset) -> None:
    """Refuse ``dataset`` (``DicomError``) if any text value, at any depth, is longer
    than its VR allows."""
    for element in dataset.iterall():
        vr = str(element.VR)
        if vr not in MAX_LENGTH or element.value is None:
            continue
        values = element.value if isinstance(element.value, (list, MultiValue)) else [element.value]
        for value in values:
            length = text_too_long(str(value), vr)
            if length is not None:
                raise DicomError(
                    f"{element.keyword or element.tag} has a value of {length} characters, more "
                    f"than DICOM allows for {vr} ({MAX_LENGTH[vr]}); shorten it"
                )
