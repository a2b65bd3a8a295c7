"""Checkpoints: weights + JSON metadata, atomic, and a file that would run code is refused."""

import os

import pytest
import torch

from reactkd.train.checkpoint import UnsafeCheckpointError, load_checkpoint, save_checkpoint
from reactkd.utils.formats import FormatError


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def test_round_trip_and_atomic(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 4, "rng": torch.get_rng_state()}
    path = save_checkpoint(tmp_path / "a" / "best.pt", state, {"fold": 1, "metrics": {"auc": float("nan")}})
    loaded, meta = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0)) and loaded["epoch"] == 4
    assert meta["fold"] == 1 and meta["reactkd_version"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.pt"]  # no temp file left


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "reactkd-checkpoint-2", "metadata": "{}", "state": {"x": _Payload()}}, path)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load .*evil.pt.*could run code"):
        load_checkpoint(path)


def test_a_checkpoint_of_another_format_version_is_refused_with_the_way_forward(tmp_path):
    torch.save({"format": "reactkd-checkpoint-1", "metadata": "{}", "state": {}}, tmp_path / "old.pt")
    with pytest.raises(FormatError, match=r"^checkpoint .*old.pt is 'reactkd-checkpoint-1'; this reactkd reads "
                                          r"reactkd-checkpoint-2: train the model again \(`reactkd train`"):
        load_checkpoint(tmp_path / "old.pt")
    torch.save({"format": "reactkd-checkpoint-9", "metadata": "{}", "state": {}}, tmp_path / "new.pt")
    with pytest.raises(FormatError, match="written by a newer reactkd"):
        load_checkpoint(tmp_path / "new.pt")


def test_other_files_are_refused(tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="is not a REACTKD checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*none.pt"):
        load_checkpoint(tmp_path / "none.pt")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "x.pt", {}, {"bad": object()})
