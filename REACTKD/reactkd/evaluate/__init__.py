"""Evaluation building blocks: pure functions over per-fold prediction tables, independent of any model.

- :mod:`~reactkd.evaluate.predictions` — the per-fold ``predictions.csv`` contract (read, write, validate).
- :mod:`~reactkd.evaluate.metrics` — accuracy, precision, recall, F1, one-vs-rest AUC; mean ± std over folds.
- :mod:`~reactkd.evaluate.roc` — one-vs-rest ROC curves per grade and their macro average.
- :mod:`~reactkd.evaluate.dca` — decision curve analysis (net benefit) for binary questions on the grades.
- :mod:`~reactkd.evaluate.tsne` — deterministic t-SNE of logits or embeddings.
- :mod:`~reactkd.evaluate.tables` — markdown / CSV tables in the paper's "0.812 ± 0.034" layout.
- :mod:`~reactkd.evaluate.figures` — figures (ROC, DCA, t-SNE, reliability) as matplotlib Figures or PNGs.
- :mod:`~reactkd.evaluate.training_figures` — loss curves and the report's training panels.
- :mod:`~reactkd.evaluate.topology_figure` — a CT slice with a prediction's node-attention map over it.
- :mod:`~reactkd.evaluate.calibration` — temperature scaling, expected calibration error, reliability bins.
- :mod:`~reactkd.evaluate.paired` — one row against another over the same folds (Wilcoxon).

Running models for an evaluation (re-evaluating a run, calibrating it, topology maps) is
:mod:`reactkd.inference`; the run report that assembles all of it is :mod:`reactkd.report`.

Grades are 1, 2, 3 everywhere in this package (files, tables, figures); probability and logit columns are
ordered by grade, so column ``k`` belongs to grade ``k + 1``.
"""
