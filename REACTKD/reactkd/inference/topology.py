"""Topology maps of a run's held-out cases: fold 0's student predicts a few of them and each is drawn
(:func:`~reactkd.evaluate.topology_figure.plot_topology_slice`) for the run report."""

from __future__ import annotations

from pathlib import Path

from reactkd.cohort import read_folds, read_manifest
from reactkd.config.run_dir import read_run_config
from reactkd.evaluate.topology_figure import plot_topology_slice
from reactkd.inference.device import evaluation_runtime
from reactkd.inference.load import load_student
from reactkd.inference.predict import predict_case

__all__ = ["topology_figures"]


def topology_figures(run: Path, out: Path, n_cases: int = 2, *, device: str | None = None,
                     precision: str | None = None) -> list[str]:
    """Predict a few held-out cases of fold 0 with its student and draw their topology maps into ``out``;
    returns the PNG names (none without a trained fold-0 student). The student runs on the run's device
    and precision unless ``device`` / ``precision`` say otherwise."""
    ckpt = run / "fold0" / "student" / "best.pt"
    if not ckpt.is_file():
        return []
    runtime = evaluation_runtime(read_run_config(run), device, precision)
    student, meta = load_student(ckpt)
    manifest = meta["config"]["data"]["manifest"] or str(run / "cohort" / "manifest.csv")
    by_id = {r.case_id: r for r in read_manifest(manifest)}
    test = [by_id[c] for c in read_folds(run / "folds.json")[0] if c in by_id and by_id[c].tumor_mask][:n_cases]
    names = []
    for record in test:
        case = record.load()
        result, attention = predict_case(student, meta, case, runtime.device, runtime.precision)
        name = f"topology_{record.case_id}.png"
        plot_topology_slice(case.ct, attention, result, out / name)
        names.append(name)
    return names
