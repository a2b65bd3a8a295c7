"""Small DICOM studies for the ``reactkd manifest`` tests: CT and PET series written slice by slice with
pydicom, and a DICOM SEG written with highdicom that references one CT series (several named segments)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage, generate_uid

SHAPE = (8, 24, 24)  # (slices, rows, columns)
SPACING = (2.0, 2.0, 3.0)  # row/column pixel spacing, slice gap (mm)


def ball(center_zyx, radius_vox) -> np.ndarray:
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    cz, cy, cx = center_zyx
    # slices are 1.5x the pixel spacing: scale z so the ball is round in mm
    return ((z - cz) * 1.5) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius_vox**2


LIVER = ball((4, 12, 12), 8)
MASS = ball((4, 12, 10), 3)
VEIN = np.zeros(SHAPE, bool)
VEIN[:, 12:14, 19:21] = True


@dataclass
class Study:
    patient_id: str
    study_uid: str
    frame_of_reference: str


def new_study(patient_id: str) -> Study:
    return Study(patient_id, generate_uid(), generate_uid())


def write_series(folder: Path, study: Study, modality: str = "CT", description: str = "portal venous",
                 tracer: str | None = None, series_number: int = 2, values: np.ndarray | None = None) -> list[Path]:
    """One series of ``SHAPE`` slices in ``folder`` (created); returns the slice files. ``modality``: CT or PT."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    if values is None:
        rng = np.random.default_rng(series_number)
        values = np.where(LIVER, 60, -50) + np.where(MASS, -30, 0) + rng.normal(0, 5, SHAPE)
        if modality == "PT":
            values = np.where(MASS, 5000, 1000) + rng.uniform(0, 100, SHAPE)
    paths = []
    for k in range(SHAPE[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        sop_class = CTImageStorage if modality == "CT" else PositronEmissionTomographyImageStorage
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = sop_class
        ds.PatientID, ds.PatientName = study.patient_id, f"Test^{study.patient_id}"
        ds.PatientBirthDate, ds.PatientSex = "19600101", "M"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study.study_uid, series_uid
        ds.FrameOfReferenceUID = study.frame_of_reference
        ds.StudyID, ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "1", "20200101", "120000", "A1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "reactkd tests"
        ds.Modality, ds.SeriesNumber = modality, series_number
        ds.InstanceNumber, ds.SeriesDescription = k + 1, description
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-24.0, -24.0, 10.0 + SPACING[2] * k]
        ds.PixelSpacing, ds.SliceThickness = list(SPACING[:2]), SPACING[2]
        ds.Rows, ds.Columns = SHAPE[1], SHAPE[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        if modality == "CT":
            ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 1, 0, 1
            ds.PixelData = np.round(values[k]).astype(np.int16).tobytes()
        else:
            ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 0, 0, 1
            ds.Units, ds.CorrectedImage = "BQML", ["ATTN", "DECY"]
            info = Dataset()
            info.Radiopharmaceutical = tracer or "Fludeoxyglucose F^18^"
            ds.RadiopharmaceuticalInformationSequence = [info]
            ds.PixelData = np.round(values[k]).astype(np.uint16).tobytes()
        paths.append(folder / f"{k + 1:03d}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def write_seg(path: Path, ct_files: list[Path], segments: dict[str, np.ndarray]) -> Path:
    """A binary DICOM SEG on ``ct_files`` with one segment per ``label → (Z, Y, X) mask``."""
    sources = [pydicom.dcmread(p) for p in ct_files]
    sources.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    descriptions = []
    for number, label in enumerate(segments, start=1):
        organ = "liver" in label.lower()
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=label,
            segmented_property_category=codes.SCT.Organ if organ else codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Liver if organ else codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL))
    pixels = np.stack([m.astype(np.uint8) for m in segments.values()], axis=-1)  # (Z, Y, X, segments)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=300,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="reactkd tests",
        manufacturer_model_name="tests", software_versions="0", device_serial_number="0")
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return path


def tree_hashes(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """``relative path → sha256`` of every file under ``root`` (except ``skip``)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p not in skip}
