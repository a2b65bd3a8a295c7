"""Outputs are never half-written: a write killed at any point leaves the old file or none,
a killed `predict` never leaves a prediction.json that looks complete without its attention map, and a
second writer into the same output folder is refused."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reactkd.cli import main
from reactkd.utils.atomic import FolderBusyError, FolderLock, atomic_outputs, atomic_path, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "REACTKD")}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, **kw)


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = atomic_write_text(tmp_path / "prediction.json", '{"grade": 2}')
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"gra')
            raise RuntimeError("disk full")
    assert target.read_text() == '{"grade": 2}'
    assert os.listdir(tmp_path) == ["prediction.json"]


def test_a_write_killed_by_sigkill_never_shows_under_the_real_name(tmp_path):
    child = _python(f"""
        import os, signal
        from reactkd.utils.atomic import atomic_path
        with atomic_path({str(tmp_path / "attention.nii.gz")!r}) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half of an image")
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """)
    assert child.wait(60) == -signal.SIGKILL
    assert _visible(tmp_path) == []  # only a hidden .attention.nii.gz.*.tmp.nii.gz is left behind


def test_a_set_of_outputs_is_replaced_marker_last(tmp_path):
    image, marker = tmp_path / "attention.nii.gz", tmp_path / "prediction.json"
    with atomic_outputs([image], marker) as tmp:
        tmp[image].write_text("old map")
        tmp[marker].write_text("old result")
    with pytest.raises(KeyboardInterrupt):
        with atomic_outputs([image], marker) as tmp:
            tmp[image].write_text("new map")
            raise KeyboardInterrupt  # killed before the marker was written
    assert (image.read_text(), marker.read_text()) == ("old map", "old result")
    assert _visible(tmp_path) == ["attention.nii.gz", "prediction.json"] and len(os.listdir(tmp_path)) == 2


def test_a_second_writer_into_the_same_folder_is_refused_and_a_stale_lock_taken_over(tmp_path):
    holder = _python(f"""
        import sys, time
        from reactkd.utils.atomic import FolderLock
        with FolderLock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusyError, match=rf"`--out` {tmp_path}: another reactkd process \(pid {holder.pid}\)"):
            with FolderLock(tmp_path, "`--out`"):
                pass
    finally:
        holder.kill()
        holder.wait(30)
    with FolderLock(tmp_path):  # its holder was killed: the lock file is stale and taken over
        assert (tmp_path / FolderLock.NAME).read_text() == str(os.getpid())
    assert not (tmp_path / FolderLock.NAME).exists()


def test_predict_into_a_folder_in_use_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = _python(f"""
        import time
        from reactkd.utils.atomic import FolderLock
        with FolderLock({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = main(["predict", "--model", str(tmp_path / "m.pt"), "--ct", "ct.nii.gz", "--liver", "l.nii.gz",
                   "--out", str(out)])
    finally:
        holder.kill()
        holder.wait(30)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and f"pid {holder.pid}) is writing into this folder" in err


def test_predict_killed_while_writing_leaves_no_complete_looking_result(tmp_path, monkeypatch, toy_case_images):
    import SimpleITK as sitk

    from reactkd.models import Student
    from reactkd.preprocess import PreprocessConfig
    from reactkd.train.checkpoint import save_checkpoint

    kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": {"kind": "region"}}
    model = save_checkpoint(tmp_path / "s.pt", {"model": Student(**kwargs).state_dict()},
                            {"kind": "student", "model_kwargs": kwargs,
                             "preprocess": PreprocessConfig(grid_size=32).to_dict()})
    files = {}
    for key in ("ct", "liver", "tumor"):
        files[key] = tmp_path / f"{key}.nii.gz"
        sitk.WriteImage(toy_case_images[key], str(files[key]))
    out = tmp_path / "out"
    argv = ["predict", "--model", str(model), "--ct", str(files["ct"]), "--liver", str(files["liver"]),
            "--tumor", str(files["tumor"]), "--out", str(out)]
    assert main(argv) == 0
    before = {n: (out / n).read_bytes() for n in ("prediction.json", "attention.nii.gz")}

    def killed_mid_write(image, path, *a, **k):
        Path(path).write_bytes(b"\x1f\x8b half")
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the map was being written

    monkeypatch.setattr(sitk, "WriteImage", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        main(argv)
    monkeypatch.undo()
    assert {n: (out / n).read_bytes() for n in before} == before  # the earlier result, untouched
    assert sorted(os.listdir(out)) == ["attention.nii.gz", "prediction.json"]  # no temporary, no lock left
    json.loads((out / "prediction.json").read_text())
