"""The phantom sample case shipped with the extension, registered in Slicer's Sample Data module.

One generated phantom patient (``reactkd cohort``, a patient the shipped demonstration model never saw):
CT, FDG PET, acetate PET and a segmentation with the ``liver`` and ``tumor`` segments, under
``Resources/SampleData`` of the REACTKD module. ``REACTKDPhantom.json`` beside them records each file's
SHA-256 (Sample Data checks it when it copies the file into its cache) and the case's true grade.
``scripts/ship_demo_model.py`` writes them. The source is registered with local ``file://`` URIs, so
loading it needs no network.
"""

from __future__ import annotations

from pathlib import Path

from REACTKDLib.model_card import file_digest, read_json

__all__ = ["SAMPLE_NAME", "SAMPLE_JSON", "SAMPLE_FILES", "SAMPLE_THUMBNAIL", "NODE_NAMES", "LOAD_TYPES",
           "CATEGORY", "sample_folder", "read_sample_record", "sample_problems", "sample_source_arguments",
           "register_sample_data", "load_sample_case", "load_through_sample_data"]

SAMPLE_NAME = "REACTKDPhantom"
SAMPLE_JSON = f"{SAMPLE_NAME}.json"
SAMPLE_THUMBNAIL = f"{SAMPLE_NAME}.png"
SAMPLE_FILES = {"ct": f"{SAMPLE_NAME}_CT.nrrd", "pet_fdg": f"{SAMPLE_NAME}_PET_FDG.nrrd",
                "pet_acetate": f"{SAMPLE_NAME}_PET_acetate.nrrd",
                "segmentation": f"{SAMPLE_NAME}_Segmentation.seg.nrrd"}
NODE_NAMES = {"ct": "REACTKD phantom CT", "pet_fdg": "REACTKD phantom FDG PET",
              "pet_acetate": "REACTKD phantom acetate PET", "segmentation": "REACTKD phantom liver and tumour"}
LOAD_TYPES = {"ct": "VolumeFile", "pet_fdg": "VolumeFile", "pet_acetate": "VolumeFile",
              "segmentation": "SegmentationFile"}
CATEGORY = "REACTKD"


def sample_folder(module_dir) -> Path:
    """Where the sample lives in an installed (or source) REACTKD module folder."""
    return Path(module_dir) / "Resources" / "SampleData"


def read_sample_record(folder) -> dict | None:
    """``REACTKDPhantom.json`` of ``folder``, ``None`` when the sample is not there.

    Raises:
        ValueError: the record is not JSON or lacks its file list.
    """
    path = Path(folder) / SAMPLE_JSON
    if not path.is_file():
        return None
    record = read_json(path)
    if not isinstance(record, dict) or set(record.get("files", {})) != set(SAMPLE_FILES):
        raise ValueError(f"{path}: its `files` must list {sorted(SAMPLE_FILES)}.")
    return record


def sample_problems(folder) -> list[str]:
    """Where the sample's files disagree with its record (empty: they agree, or there is no sample)."""
    record = read_sample_record(folder)
    if record is None:
        return []
    problems = []
    for key, info in record["files"].items():
        path = Path(folder) / info["file"]
        if info["file"] != SAMPLE_FILES[key]:
            problems.append(f"{key}: the record names {info['file']}, expected {SAMPLE_FILES[key]}")
        elif not path.is_file():
            problems.append(f"{info['file']} is missing")
        elif file_digest(path) != {"sha256": info["sha256"], "size": info["size"]}:
            problems.append(f"{info['file']} differs from {SAMPLE_JSON}")
    return problems


def sample_source_arguments(folder) -> dict | None:
    """Keyword arguments for ``SampleData.SampleDataLogic.registerCustomSampleDataSource``, ``None``
    without a sample. Files are given as ``file://`` URIs with their SHA-256."""
    record = read_sample_record(folder)
    if record is None:
        return None
    folder = Path(folder).resolve()
    keys = list(SAMPLE_FILES)
    thumbnail = folder / SAMPLE_THUMBNAIL
    return {"category": CATEGORY, "sampleName": SAMPLE_NAME,
            "uris": [(folder / SAMPLE_FILES[k]).as_uri() for k in keys],
            "fileNames": [SAMPLE_FILES[k] for k in keys],
            "nodeNames": [NODE_NAMES[k] for k in keys],
            "loadFileType": [LOAD_TYPES[k] for k in keys],
            "checksums": [f"SHA256:{record['files'][k]['sha256']}" for k in keys],
            "thumbnailFileName": str(thumbnail) if thumbnail.is_file() else None}


def register_sample_data(sample_data_logic, folder) -> bool:
    """Register the sample with ``sample_data_logic`` (``SampleData.SampleDataLogic``); returns whether
    there was one to register."""
    arguments = sample_source_arguments(folder)
    if arguments is None:
        return False
    sample_data_logic.registerCustomSampleDataSource(**arguments)
    return True


def load_sample_case(scene, folder) -> dict:
    """The sample's nodes read straight from ``folder`` into ``scene`` with Slicer's storage nodes (what
    Sample Data does after its cache copy); ``{"ct", "pet_fdg", "pet_acetate", "segmentation"}`` → node.
    The segmentation's reference geometry is the CT.

    Raises:
        FileNotFoundError: no sample in ``folder``.
        ValueError: a file Slicer cannot read.
    """
    if read_sample_record(folder) is None:
        raise FileNotFoundError(f"no sample case in {folder} ({SAMPLE_JSON} missing).")
    nodes = {}
    for key, rel in SAMPLE_FILES.items():
        path = Path(folder) / rel
        if key == "segmentation":
            node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", NODE_NAMES[key])
            storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
        else:
            node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", NODE_NAMES[key])
            storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(str(path))
        if not storage.ReadData(node):
            raise ValueError(f"{path}: Slicer could not read it.")
        node.SetAndObserveStorageNodeID(storage.GetID())
        nodes[key] = node
    nodes["segmentation"].SetReferenceImageGeometryParameterFromVolumeNode(nodes["ct"])
    return nodes


def load_through_sample_data(sample_data_logic, folder) -> dict:
    """The sample through Slicer's Sample Data module (its cache copy and checksum check), registered
    first: ``{"ct", "pet_fdg", "pet_acetate", "segmentation"}`` → node, the segmentation's reference
    geometry the CT. ``sample_data_logic``: the ``SampleData.SampleDataLogic`` class.

    Raises:
        FileNotFoundError: no sample in ``folder`` (the extension is incomplete).
        RuntimeError: Sample Data did not load every file.
    """
    if not register_sample_data(sample_data_logic, folder):
        raise FileNotFoundError(f"The phantom sample case is not installed in {folder}: reinstall the extension.")
    loaded = sample_data_logic().downloadSamples(SAMPLE_NAME)
    nodes = {key: next((n for n in loaded if hasattr(n, "GetName") and n.GetName().startswith(name)), None)
             for key, name in NODE_NAMES.items()}
    if any(n is None for n in nodes.values()):
        raise RuntimeError("Sample Data could not load every file of the phantom sample case; see the log.")
    nodes["segmentation"].SetReferenceImageGeometryParameterFromVolumeNode(nodes["ct"])
    return nodes
