"""The grade table shows the fold models' spread, their agreement, calibration, and whether the inputs
lie outside what the model was trained on (REACTKDLib.outputs against real MRML)."""

from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.outputs import grade_notes, prediction_summary, update_grade_table


def _prediction(warnings):
    return {"probabilities": {"1": 0.1, "2": 0.6, "3": 0.3}, "grade": 2, "modalities": {"ct": True, "pet": []},
            "nodes": [{"kind": "liver"}, {"kind": "tumor"}],
            "uncertainty": {"probability_std": {"1": 0.02, "2": 0.15, "3": 0.13}, "agreement": 0.8, "entropy": 0.81,
                            "members": 5, "calibrated": True},
            "domain_warnings": warnings}


def _column(node, name):
    table = node.GetTable()
    col = table.GetColumnByName(name)
    return [col.GetValue(r) for r in range(table.GetNumberOfRows())]


def test_grade_table_shows_spread_agreement_and_domain(scene):
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    warning = "voxel size 0.7×0.7×5 mm is outside the training range 0.8×0.8×1–1×1×2.5 mm."
    node = update_grade_table(scene, ct, _prediction([warning]))
    assert _column(node, "± SD") == [0.02, 0.15, 0.13]
    notes = _column(node, "Note")
    assert notes[0] == "4 of 5 models agree; entropy 0.81 (0 sure, 1 uniform)"
    assert notes[1] == "calibrated (temperature scaling per fold)"
    assert notes[2] == "OUTSIDE TRAINING: " + warning
    assert node.GetAttribute("REACTKD.DomainWarnings") == warning
    inside = update_grade_table(scene, ct, _prediction([]))
    assert inside is node and _column(node, "Note")[2] == "inputs like the training cases"
    assert "G2 0.60 ± 0.15" in prediction_summary(_prediction([warning]))
    assert prediction_summary(_prediction([warning])).endswith(warning)


def test_a_prediction_without_uncertainty_still_fills_the_table(scene):
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    old = {"probabilities": {"1": 0.2, "2": 0.5, "3": 0.3}, "grade": 2, "nodes": []}
    node = update_grade_table(scene, ct, old)
    assert _column(node, "± SD") == [0.0, 0.0, 0.0] and grade_notes(old) == ["", "", ""]
