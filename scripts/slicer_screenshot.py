#!/usr/bin/env python3
"""Regenerate Resources/Screenshots/REACTKD.png: the REACTKD module's result on the real CT fixture,
built exactly as the module does it (nodes in an MRML scene from slicer-core, ``reactkd predict`` in a
separate process) and drawn offscreen from the scene's nodes.

    .venv/bin/python scripts/slicer_screenshot.py [--model CKPT_OR_RUN] [--out PNG]

Without --model: the main job's run (runs/demo) when present, else a tiny untrained student (then the
picture shows the mechanics, not a meaningful grade; the title says so).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "REACTKD"))
sys.path.insert(0, str(ROOT / "Testing" / "slicer"))  # fixture_data (imported by name, not as a package)
REAL = ROOT.parent / "shared" / "data" / "real" / "totalsegmentator"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model")
    p.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "REACTKD.png")
    args = p.parse_args()
    if not REAL.is_dir():
        print(f"real CT fixture not found at {REAL}", file=sys.stderr)
        return 1
    import slicer
    from fixture_data import write_liver_tumour_segmentation, write_tiny_student

    from REACTKDLib.inference import default_model, export_inputs, read_prediction, start_prediction
    from REACTKDLib.outputs import show_results
    from REACTKDLib.segments import default_segment_choice, load_segmentation_file, segment_names
    from REACTKDLib.snapshot import render_overlay_png

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, untrained = args.model or default_model(), False
        if not model:
            model, untrained = str(write_tiny_student(tmp / "tiny.pt")), True
        scene = slicer.vtkMRMLScene()
        ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "example_ct_sm")
        storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(str(REAL / "example_ct_sm.nii.gz"))
        storage.ReadData(ct)
        write_liver_tumour_segmentation(REAL / "example_seg.nii.gz", tmp / "seg.seg.nrrd")
        seg = load_segmentation_file(scene, tmp / "seg.seg.nrrd")
        liver, tumors = default_segment_choice(segment_names(seg))
        inputs = export_inputs(scene, ct, seg, [liver], tumors, tmp / "job")
        proc = start_prediction(inputs, model, "cpu")
        if proc.wait(600, print) != 0:
            return 1
        prediction, attention = read_prediction(inputs.out)
        out = show_results(scene, ct, prediction, attention)
        probs = ", ".join(f"G{g} {v:.2f}" for g, v in prediction["probabilities"].items())
        untrained_note = "\nuntrained tiny model: shows the mechanics, not a real grade" if untrained else ""
        title = f"grade {prediction['grade']} ({probs})" + untrained_note
        print(render_overlay_png(ct, out["attention"], out["graph"], args.out, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
