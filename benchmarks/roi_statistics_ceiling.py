#!/usr/bin/env python3
"""How far a linear reader of a region head's CT features gets: the ceiling of a CT-only region head.

A region head reading ``sources: [input]`` sees, per case, the CT pooled over the tumours and over the liver
(:meth:`reactkd.models.RegionHead.pool`) and, with ``geometry``, the region graph's tumour count, burden and
spread (:func:`reactkd.models.region_head.roi_geometry`). This script computes exactly those numbers from
the preprocessed model-grid CT of every case of a phantom cohort, fits a logistic regression on the
training patients of each fold (``patient_folds``, as a run splits them, for each seed) and scores the
held-out fold with the macro one-vs-rest AUC. Feature sets: ``mean`` (the paper's masked average pooling),
``mean+std`` (``head.statistics: [mean, std]``), each with the geometry; the phantom's CT trait oracle on
the same folds for reference.

Usage (a cohort written by ``reactkd cohort --out DIR --patients 97 --size 96 96 64``)::

    PYTHONPATH=REACTKD benchmarks/roi_statistics_ceiling.py --cohort DIR [--grid 32] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings

import numpy as np
import torch

from reactkd.cohort.cache import PreprocessCache
from reactkd.cohort.folds import patient_folds
from reactkd.cohort.manifest import read_manifest
from reactkd.evaluate.metrics import ovr_auc
from reactkd.models import RegionHead
from reactkd.models.region_head import roi_geometry
from reactkd.phantom.oracle import CT_TRAITS, oracle_fold_probabilities, phantom_truth, trait_features
from reactkd.preprocess import PreprocessConfig

FEATURE_SETS = {"mean": ("mean",), "mean+std": ("mean", "std")}


def head_features(cohort: str, grid: int) -> tuple[list, dict[str, np.ndarray]]:
    """The records and, per :data:`FEATURE_SETS` entry, the ``(N, F)`` features a CT-only region head reads:
    pooled CT statistics + geometry (each case preprocessed once)."""
    records = read_manifest(f"{cohort}/manifest.csv")
    rows: dict[str, list] = {name: [] for name in FEATURE_SETS}
    with tempfile.TemporaryDirectory() as tmp:
        cache = PreprocessCache(tmp, PreprocessConfig(grid_size=grid))
        for r in records:
            mi = cache.get(r)
            ct = torch.as_tensor(mi.ct, dtype=torch.float32)[None]
            masks = torch.as_tensor(mi.roi_masks, dtype=torch.float32)[None]
            geometry = roi_geometry(masks)
            for name, statistics in FEATURE_SETS.items():
                rows[name].append(torch.cat([RegionHead.pool(ct, masks, statistics), geometry], 1)[0].numpy())
    return records, {name: np.array(v, dtype=np.float64) for name, v in rows.items()}


def fold_aucs(records: list, x: np.ndarray, seeds: list[int]) -> list[float]:
    """Held-out macro AUC of the trait oracle's logistic regression on ``x``, per (seed, fold)."""
    index = {r.case_id: i for i, r in enumerate(records)}
    y = np.array([r.grade for r in records])
    out = []
    for seed in seeds:
        for test in patient_folds(records, 3, seed):
            te = np.array([index[c] for c in test])
            tr = np.setdiff1d(np.arange(len(records)), te)
            out.append(ovr_auc(y[te], oracle_fold_probabilities(x[tr], y[tr], x[te])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", required=True, help="a phantom cohort folder (manifest.csv + cohort.json)")
    parser.add_argument("--grid", type=int, default=32, help="model grid side (default 32, the demo's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    records, features = head_features(args.cohort, args.grid)
    for name, x in features.items():
        aucs = fold_aucs(records, x, args.seeds)
        print(f"region head [input], {name} + geometry: AUC {np.mean(aucs):.3f} ± {np.std(aucs):.3f} "
              f"({len(aucs)} folds; per fold {np.round(aucs, 3).tolist()})")
    truth = phantom_truth(args.cohort)
    if truth is not None:
        aucs = fold_aucs(records, trait_features(truth, [r.case_id for r in records], CT_TRAITS), args.seeds)
        print(f"trait oracle (CT): AUC {np.mean(aucs):.3f} ± {np.std(aucs):.3f}")


if __name__ == "__main__":
    main()
