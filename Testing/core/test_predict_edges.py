"""prediction.json carries the region graph's edges (node-pair cosine similarities) for the Slicer view."""

import numpy as np
import torch

from reactkd.inference.predict import predict_case
from reactkd.io import load_case
from reactkd.models import Student
from reactkd.preprocess import PreprocessConfig


def test_edges_are_every_node_pair_with_a_cosine_similarity(toy_case_images):
    torch.manual_seed(0)
    student = Student(init_filters=8, fusion_channels=8, blocks_down=(1, 1, 1), head={"kind": "region"})
    meta = {"preprocess": PreprocessConfig(grid_size=32).to_dict()}
    im = toy_case_images
    case = load_case(im["ct"], im["liver"], im["tumor"], case_id="toy")
    result, _ = predict_case(student, meta, case)
    n = len(result["nodes"])
    assert n == 3  # liver + two tumour balls
    pairs = [(e["i"], e["j"]) for e in result["edges"]]
    assert pairs == [(i, j) for i in range(n) for j in range(i + 1, n)]
    sims = np.array([e["similarity"] for e in result["edges"]])
    assert np.all(np.abs(sims) <= 1 + 1e-6) and np.ptp(sims) > 0  # real cosines, not a constant
