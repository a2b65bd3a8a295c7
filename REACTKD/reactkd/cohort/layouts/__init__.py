"""Manifests from the layouts public cohorts come in: LiTS (``volume-N`` / ``segmentation-N``), a DICOM
tree with DICOM SEG objects (TCIA collections such as HCC-TACE-Seg), and a folder per case; grades and
clinical values joined from a CSV/XLSX table; every case checked as ``reactkd predict`` checks its inputs.
"""

from reactkd.cohort.layouts.build import ManifestOptions, build_manifest
from reactkd.cohort.layouts.clinical import read_clinical
from reactkd.cohort.layouts.detect import Layout, detect_layout
from reactkd.cohort.layouts.found import FoundCase, Problem, ProblemKind
from reactkd.cohort.layouts.grades import GradeParseError, parse_grade
from reactkd.cohort.layouts.lits import LabelValues
from reactkd.cohort.layouts.segments import SegmentNames
from reactkd.cohort.layouts.summary import ManifestSummary

__all__ = ["ManifestOptions", "build_manifest", "ManifestSummary", "Layout", "detect_layout", "LabelValues",
           "SegmentNames", "read_clinical", "parse_grade", "GradeParseError", "FoundCase", "Problem", "ProblemKind"]
