"""Checking a found case the way ``reactkd predict`` checks its inputs, before it enters a manifest.

The case is read with the core case reader (:meth:`reactkd.cohort.manifest.CaseRecord.load`, i.e.
:func:`reactkd.io.load_case`): every file exists and reads (a truncated NIfTI, NaN voxels, a DICOM
series with a missing or corrupt slice, a non-orthonormal direction …), the masks lie on the CT, a PET
overlaps it; and the liver mask must hold voxels on the CT grid (preprocessing places its grid around
the liver). The reader's warnings (a tumour outside the liver, a mask partly outside the CT) are kept
as notes: the case stays.
"""

from __future__ import annotations

import warnings

import numpy as np
import SimpleITK as sitk

from reactkd.cohort.layouts.found import FoundCase
from reactkd.cohort.manifest import CaseRecord

__all__ = ["case_record", "check_case"]


def case_record(case: FoundCase, cohort: str = "") -> CaseRecord:
    """The manifest record of a found case."""
    return CaseRecord(patient_id=case.patient_id, case_id=case.case_id, grade=case.grade, ct=case.ct,
                      liver_mask=case.liver_mask, tumor_mask=case.tumor_mask, pets=dict(case.pets),
                      clinical=dict(case.clinical), cohort=cohort)


def check_case(record: CaseRecord) -> tuple[str | None, list[str]]:
    """``(problem or None, warnings)`` of reading ``record`` as ``predict`` would; nothing is written."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case = record.load()
        except Exception as err:  # noqa: BLE001 - any failure to read leaves the case out, named
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return text, []
    notes = [str(w.message) for w in caught]
    if not np.any(sitk.GetArrayViewFromImage(case.liver)):
        return f"case {record.case_id}: the liver mask is empty on the CT grid ({record.liver_mask})", notes
    return None, notes
