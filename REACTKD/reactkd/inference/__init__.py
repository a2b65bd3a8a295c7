"""Inference: load a trained student or a run's fold ensemble, grade one case or a manifest, explain the
grade per region-graph node, and run trained models for an evaluation.

- :mod:`~reactkd.inference.load` — a student from a checkpoint file or a run folder.
- :mod:`~reactkd.inference.attention` — node attention (Grad-CAM, or a graph head's readout).
- :mod:`~reactkd.inference.predict` — one case: probabilities, region graph, topology map on the CT's grid.
- :mod:`~reactkd.inference.ensemble` — the calibrated fold ensemble with its uncertainty.
- :mod:`~reactkd.inference.domain` — a run's training domain and the case's warnings against it.
- :mod:`~reactkd.inference.batch` — every case of a manifest into one folder.
- :mod:`~reactkd.inference.calibrate` — each fold student's temperature on its own validation split.
- :mod:`~reactkd.inference.run_eval` — a run re-evaluated (modality withheld, dose level, external cohort).
- :mod:`~reactkd.inference.topology` — topology maps of held-out cases for the run report.
- :mod:`~reactkd.inference.fit_gap` — each fold's models on their own training cases against held out.

Everything here runs models; the metrics, tables and figures over their predictions are in
:mod:`reactkd.evaluate`.
"""

from reactkd.inference.batch import grade_manifest
from reactkd.inference.ensemble import Ensemble, load_ensemble, predict_with_ensemble
from reactkd.inference.load import load_student
from reactkd.inference.predict import predict_case

__all__ = ["Ensemble", "grade_manifest", "load_ensemble", "load_student", "predict_case", "predict_with_ensemble"]
