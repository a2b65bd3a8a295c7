"""Which PET tracer a text names (a DICOM radiopharmaceutical, a series description, a file name)."""

from __future__ import annotations

import re
from pathlib import Path

import pydicom

__all__ = ["tracer_from_text", "dicom_pet_tracer", "TRACER_WORDS"]

TRACER_WORDS = {
    "fdg": ("fdg", "fluorodeoxyglucose", "fludeoxyglucose", "deoxyglucose"),
    "acetate": ("acetate", "acetat", "c11", "11c"),
}
"""Words that name each tracer the manifest has a column for (``pet_fdg``, ``pet_acetate``)."""


def tracer_from_text(text: str) -> str | None:
    """``fdg``, ``acetate`` or None when ``text`` names neither (or both)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    hits = {tracer for tracer, names in TRACER_WORDS.items() if any(w.startswith(names) for w in words)}
    return hits.pop() if len(hits) == 1 else None


def dicom_pet_tracer(path: Path) -> tuple[str | None, str, bool]:
    """``(tracer, what the header says, attenuation corrected)`` of one PET slice: the tracer from
    RadiopharmaceuticalInformationSequence (Radiopharmaceutical, its code's meaning; PS3.3 C.8.9.2),
    else from the series description; attenuation correction from CorrectedImage containing ATTN."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    texts = []
    for info in getattr(ds, "RadiopharmaceuticalInformationSequence", []):
        texts.append(str(getattr(info, "Radiopharmaceutical", "") or ""))
        codes = getattr(info, "RadiopharmaceuticalCodeSequence", [])
        texts += [str(getattr(c, "CodeMeaning", "") or "") for c in codes]
    said = " ".join(t for t in texts if t).strip()
    tracer = tracer_from_text(said) if said else None
    if tracer is None:
        tracer = tracer_from_text(str(getattr(ds, "SeriesDescription", "") or ""))
    corrected = "ATTN" in [str(v).upper() for v in (getattr(ds, "CorrectedImage", None) or [])]
    return tracer, said or str(getattr(ds, "SeriesDescription", "") or ""), corrected
