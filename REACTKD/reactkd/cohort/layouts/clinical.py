"""A clinical table (CSV, TSV or XLSX): a patient column, a grade column, and the manifest's clinical
columns where present.

Columns are found by header name (case, spaces and punctuation ignored), or given by the user:

==========  =================================================================================
column      header names (an exact name wins; else one header containing the word)
==========  =================================================================================
patient     patient_id, patient, PatientID, TCIA_ID, subject_id, subject, case_id, case, id, mrn
grade       grade, tumor_grade, histologic_grade, ES_grade, Edmondson…, differentiation,
            pathology (HCC-TACE-Seg's), WHO_grade; containing "grade", "edmondson", "differentiat"
age         age, age_years, age_at_diagnosis; sex: sex, gender; hepatitis: containing "hepatitis";
afp         afp, alpha_fetoprotein, containing "afp"
==========  =================================================================================

The clinical values are copied as written (the manifest's ``age``, ``sex``, ``hepatitis``, ``afp``);
the grade is read by :func:`.grades.parse_grade`. XLSX needs ``openpyxl`` (``pip install
"reactkd[clinical]"``); without it an XLSX table is refused with that advice.
"""

from __future__ import annotations

import csv
import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path

from reactkd.cohort.layouts.grades import GradeParseError, parse_grade

try:  # optional: only XLSX tables need it
    import openpyxl
except ImportError:  # pragma: no cover - depends on the environment
    openpyxl = None

__all__ = ["ClinicalRow", "ClinicalTable", "read_clinical", "read_table"]

_PATIENT = ("patientid", "patient", "tciaid", "subjectid", "subject", "caseid", "case", "id", "mrn", "pid")
_GRADE = ("grade", "tumorgrade", "tumourgrade", "histologicgrade", "histologicalgrade", "esgrade",
          "edmondsonsteinergrade", "edmondsongrade", "edmondsonsteiner", "differentiation", "pathology",
          "pathologicgrade", "pathologicalgrade", "whograde")
_EXTRAS = {
    "age": (("age", "ageyears", "ageatdiagnosis", "patientage"), ()),
    "sex": (("sex", "gender", "patientsex"), ()),
    "hepatitis": (("hepatitis",), ("hepatitis",)),
    "afp": (("afp", "alphafetoprotein", "afpngml"), ("afp", "alphafetoprotein")),
}


@dataclass
class ClinicalRow:
    """One table row: ``row`` its number as a spreadsheet shows it (the header is row 1)."""

    row: int
    patient: str
    grade: int | None
    grade_text: str
    grade_problem: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


@dataclass
class ClinicalTable:
    path: Path
    patient_column: str
    grade_column: str
    extra_columns: dict[str, str]
    rows: list[ClinicalRow]
    notes: list[str] = field(default_factory=list)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value).strip()


def _read_xlsx(path: Path, sheet: str | None) -> list[list[str]]:
    if openpyxl is None:
        raise ValueError(f"`--clinical` {path}: reading XLSX needs openpyxl (pip install openpyxl, or "
                         "pip install \"reactkd[clinical]\"), or save the sheet as CSV.")
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    if sheet is not None and sheet not in book.sheetnames:
        raise ValueError(f"`--sheet` {sheet!r} is not in {path.name}; its sheets are {book.sheetnames}.")
    rows = [[_cell(v) for v in row] for row in book[sheet or book.sheetnames[0]].iter_rows(values_only=True)]
    book.close()
    return rows


def read_table(path: Path, sheet: str | None = None) -> list[list[str]]:
    """The rows of a CSV/TSV (delimiter sniffed among ``, ; tab``) or XLSX table as text, header first."""
    if not path.is_file():
        raise FileNotFoundError(f"`--clinical` table not found: {path}")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    if path.suffix.lower() == ".xls":
        raise ValueError(f"`--clinical` {path}: the old binary .xls format is not read; save it as .xlsx or CSV.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    return [[c.strip() for c in row] for row in csv.reader(text.splitlines(), dialect)]


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _find(headers: list[str], exact: tuple[str, ...], containing: tuple[str, ...]) -> list[str]:
    keys = {h: _key(h) for h in headers if h}
    for name in exact:
        hits = [h for h, k in keys.items() if k == name]
        if hits:
            return hits
    return [h for h, k in keys.items() if any(word in k for word in containing)]


def _column(headers: list[str], given: str | None, exact, containing, what: str, flag: str, path: Path) -> str:
    if given is not None:
        hits = [h for h in headers if h.strip().lower() == given.strip().lower()]
        if not hits:
            raise ValueError(f"`{flag}` {given!r} is not a column of {path.name}; its columns are {headers}.")
        return hits[0]
    hits = _find(headers, exact, containing)
    if len(hits) != 1:
        found = f"several could be: {hits}" if hits else f"no header looks like one; columns are {headers}"
        raise ValueError(f"`--clinical` {path.name}: which column holds the {what}? {found}; name it with {flag}.")
    return hits[0]


def read_clinical(path: str | Path, patient_column: str | None = None, grade_column: str | None = None,
                  sheet: str | None = None) -> ClinicalTable:
    """Read a clinical table (see the module docstring). Rows without a patient are skipped; a grade
    that does not parse is kept as the row's ``grade_problem``, never raised.

    Raises:
        FileNotFoundError: the table is missing.
        ValueError: no header row, a column that cannot be found (or is ambiguous), an unreadable XLSX.
    """
    path = Path(path)
    rows = read_table(path, sheet)
    start = next((i for i, r in enumerate(rows) if any(r)), None)
    if start is None:
        raise ValueError(f"`--clinical` {path}: the table is empty.")
    headers = rows[start]
    patient = _column(headers, patient_column, _PATIENT, ("patient", "tcia"), "patient ids", "--patient-column", path)
    grade = _column(headers, grade_column, _GRADE, ("grade", "edmondson", "differentiat"), "grades", "--grade-column",
                    path)
    table = ClinicalTable(path, patient, grade, {}, [])
    for column, (exact, containing) in _EXTRAS.items():
        hits = [h for h in _find(headers, exact, containing) if h not in (patient, grade)]
        if len(hits) == 1:
            table.extra_columns[column] = hits[0]
        elif hits:
            table.notes.append(f"{path.name}: several columns could be `{column}` {hits}: not copied")
    at = {h: headers.index(h) for h in [patient, grade, *table.extra_columns.values()]}
    for number, values in enumerate(rows[start + 1:], start=start + 2):
        cell = {h: values[i] if i < len(values) else "" for h, i in at.items()}
        if not cell[patient]:
            continue
        row = ClinicalRow(number, cell[patient], None, cell[grade])
        try:
            row.grade = parse_grade(row.grade_text)
        except GradeParseError as err:
            row.grade_problem = str(err)
        row.extras = {c: cell[h] for c, h in table.extra_columns.items() if cell[h]}
        table.rows.append(row)
    return table
