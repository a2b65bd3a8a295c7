"""Cohorts: manifests, patient-level folds, the preprocessed-case cache and dataset, modality dropout, cohort
layouts read into manifests (:mod:`reactkd.cohort.layouts`)."""

from reactkd.cohort.cache import PreprocessCache
from reactkd.cohort.dataset import CaseDataset, collate_cases
from reactkd.cohort.folds import patient_folds, read_folds, write_folds
from reactkd.cohort.manifest import CaseRecord, ManifestError, read_manifest, write_manifest

__all__ = ["CaseRecord", "ManifestError", "read_manifest", "write_manifest", "patient_folds", "read_folds",
           "write_folds", "PreprocessCache", "CaseDataset", "collate_cases"]
