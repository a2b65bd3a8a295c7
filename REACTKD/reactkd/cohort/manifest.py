"""Cohort manifests (CSV or YAML): one row per case, validated with an error that lists every broken row.

Columns (CSV) / keys (YAML):

=============  ========  ==========================================================================
column         required  meaning
=============  ========  ==========================================================================
patient_id     yes       patient; folds never split a patient
case_id        yes       unique id of the study
grade          yes*      Edmondson–Steiner grade 1, 2 or 3 (*optional with ``require_grade=False``)
ct             yes       CT image (NIfTI/NRRD/MHA file or DICOM series folder)
pet_<tracer>   no        PET per tracer, e.g. ``pet_fdg``, ``pet_acetate`` (YAML: ``pets: {fdg: …}``)
liver_mask     yes       ``PATH[:LABEL]`` liver mask (label map, ``.seg.nrrd``, DICOM SEG)
tumor_mask     no        ``PATH[:LABEL]`` tumour mask; empty = no tumour
age, sex, …    no        clinical variables: ``age``, ``sex``, ``hepatitis``, ``afp``
cohort         no        cohort name (e.g. centre), for external evaluation
=============  ========  ==========================================================================

Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reactkd.io.case import PET_TRACERS, Case, load_case
from reactkd.io.masks import parse_mask_spec

__all__ = ["CaseRecord", "ManifestError", "read_manifest", "write_manifest", "REQUIRED_COLUMNS", "CLINICAL_COLUMNS",
           "MANIFEST_COLUMNS"]

REQUIRED_COLUMNS = ("patient_id", "case_id", "grade", "ct", "liver_mask")
CLINICAL_COLUMNS = ("age", "sex", "hepatitis", "afp")
OPTIONAL_COLUMNS = ("tumor_mask", "cohort") + CLINICAL_COLUMNS + tuple(f"pet_{t}" for t in PET_TRACERS)
MANIFEST_COLUMNS = ("patient_id", "case_id", "grade", "ct", *(f"pet_{t}" for t in PET_TRACERS), "liver_mask",
                    "tumor_mask", *CLINICAL_COLUMNS, "cohort")
"""Column order of the manifests this package writes."""


class ManifestError(ValueError):
    """A manifest with problems; ``problems`` lists one message per broken row or column."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        shown = "\n  ".join(problems[:50]) + (f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else "")
        super().__init__(f"manifest {path} has {len(problems)} problem(s):\n  {shown}")


@dataclass(frozen=True)
class CaseRecord:
    """One validated manifest row, paths absolute."""

    patient_id: str
    case_id: str
    grade: int | None
    ct: Path
    liver_mask: str
    tumor_mask: str | None = None
    pets: dict[str, Path] = field(default_factory=dict)
    clinical: dict[str, str] = field(default_factory=dict)
    cohort: str = ""

    def load(self) -> Case:
        """Read the images (see :func:`reactkd.io.load_case`)."""
        return load_case(self.ct, self.liver_mask, self.tumor_mask, dict(self.pets), self.case_id, self.patient_id,
                         self.grade)

    def files(self) -> list[Path]:
        """Every file or folder the case reads (for cache keys)."""
        masks = [parse_mask_spec(m).path for m in (self.liver_mask, self.tumor_mask) if m]
        return [self.ct, *masks, *self.pets.values()]


def _rows(path: Path) -> list[dict]:
    if path.suffix.lower() in (".yaml", ".yml"):

        data = yaml.safe_load(path.read_text())
        rows = data.get("cases") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ManifestError(path, ["a YAML manifest must be a list of cases or a mapping with a `cases` list"])
        out = []
        for r in rows:
            r = {k: ("" if v is None else v) for k, v in r.items()}
            for tracer, p in (r.pop("pets", None) or {}).items():
                r[f"pet_{str(tracer).lower()}"] = p
            out.append({k: str(v) for k, v in r.items()})
        return out
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(path, [f"missing column(s) {missing}; columns are {reader.fieldnames}"])
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def read_manifest(path: str | os.PathLike, *, require_grade: bool = True, check_files: bool = True) -> list[CaseRecord]:
    """Read and validate a manifest.

    Raises:
        FileNotFoundError: if the manifest itself is missing.
        ManifestError: (a ``ValueError``) listing every problem: unknown or missing columns, empty
            required fields, bad grades, duplicate case ids, missing files.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    rows = _rows(path)
    base = path.parent
    problems: list[str] = []
    if not rows:
        problems.append("no cases")
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = sorted({k for r in rows for k in r} - known)
    if unknown:
        problems.append(f"unknown column(s) {unknown}; allowed: {sorted(known)} (PET tracers: {list(PET_TRACERS)})")
    records, seen = [], {}
    for n, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        where = f"row {n}" + (f" ({row.get('case_id')})" if row.get("case_id") else "")
        errs = [f"empty `{c}`" for c in REQUIRED_COLUMNS if not row.get(c) and (c != "grade" or require_grade)]
        grade = None
        if row.get("grade"):
            try:
                grade = int(float(row["grade"]))
                if grade not in (1, 2, 3) or float(row["grade"]) != grade:
                    raise ValueError
            except ValueError:
                errs.append(f"`grade` must be 1, 2 or 3, got {row['grade']!r}")
        cid = row.get("case_id", "")
        if cid and cid in seen:
            errs.append(f"duplicate case_id (also row {seen[cid]})")
        seen.setdefault(cid, n)
        resolve = lambda p: p if Path(p).is_absolute() else str(base / p)  # noqa: E731
        fields_ = {c: resolve(row[c]) for c in ("ct", "liver_mask", "tumor_mask") if row.get(c)}
        pets = {c[4:]: Path(resolve(row[c])) for c in row if c.startswith("pet_") and row[c]}
        if check_files:
            for c, v in list(fields_.items()) + [(f"pet_{t}", str(p)) for t, p in pets.items()]:
                if not parse_mask_spec(v).path.exists():
                    errs.append(f"`{c}` file not found: {parse_mask_spec(v).path}")
        if errs:
            problems.append(f"{where}: " + "; ".join(errs))
            continue
        records.append(CaseRecord(
            patient_id=row["patient_id"], case_id=cid, grade=grade, ct=Path(fields_["ct"]),
            liver_mask=fields_["liver_mask"], tumor_mask=fields_.get("tumor_mask"), pets=pets,
            clinical={c: row[c] for c in CLINICAL_COLUMNS if row.get(c)}, cohort=row.get("cohort", ""),
        ))
    if problems:
        raise ManifestError(path, problems)
    return records


def write_manifest(records: list[CaseRecord], path: str | os.PathLike) -> Path:
    """Write records as a CSV manifest with paths relative to its folder where possible."""
    path = Path(path)
    base = path.parent.resolve()

    def rel(p: str | Path | None) -> str:
        if not p:
            return ""
        spec = parse_mask_spec(p)
        try:
            text = os.path.relpath(Path(spec.path).resolve(), base)
        except ValueError:
            text = str(spec.path)
        return f"{text}:{spec.label_text}" if spec.label is not None else text

    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        w.writeheader()
        for r in records:
            row = {"patient_id": r.patient_id, "case_id": r.case_id, "grade": r.grade or "", "ct": rel(r.ct),
                   "liver_mask": rel(r.liver_mask), "tumor_mask": rel(r.tumor_mask), "cohort": r.cohort}
            row.update({f"pet_{t}": rel(p) for t, p in r.pets.items()})
            row.update(r.clinical)
            w.writerow(row)
    return path
