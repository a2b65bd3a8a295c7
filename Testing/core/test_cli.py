"""The command line: contracts later checks rely on, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import SimpleITK as sitk

from reactkd.cli import build_parser, main


def test_subcommands_registered():
    text = build_parser().format_help()
    for name in ("graph", "cohort", "demo"):
        assert name in text


def test_graph_json_contract(tmp_path, toy_case_images, capsys):
    t = toy_case_images
    for k in ("ct", "liver", "tumor"):
        sitk.WriteImage(t[k], str(tmp_path / f"{k}.nii.gz"))
    rc = main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "liver.nii.gz"),
               "--tumor", str(tmp_path / "tumor.nii.gz"), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [n["kind"] for n in out["nodes"]] == ["liver", "tumor", "tumor"]
    for n in out["nodes"]:
        assert isinstance(n["voxels"], int) and n["volume_ml"] > 0 and len(n["centroid_lps_mm"]) == 3
    assert out["nodes"][0]["volume_ml"] == round(out["nodes"][0]["voxels"] * 1.5 * 1.5 * 2.0 / 1000, 4)
    assert main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "liver.nii.gz")]) == 0
    assert "1 liver, 0 tumour(s)" in capsys.readouterr().out


def test_graph_errors_are_one_line(tmp_path, toy_case_images, capsys):
    sitk.WriteImage(toy_case_images["ct"], str(tmp_path / "ct.nii.gz"))
    rc = main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "none.nii.gz")])
    err = capsys.readouterr().err
    assert rc == 2 and "reactkd graph: error: " in err and "liver mask: file not found" in err
    assert "Traceback" not in err


def test_help_lists_every_command_without_importing_them():
    """``reactkd --help`` reads the command list from the sources; only the chosen command is imported."""
    code = ("import sys; from reactkd.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'reactkd.cli.train' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False False", done.stdout + done.stderr
    assert "seg-distill" in done.stdout and "simulate-dose" in done.stdout
