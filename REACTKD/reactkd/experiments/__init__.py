"""The paper's experiments as commands: comparison of distillers (Table I), ablation (Table II), missing
modality (Table III) and dose degradation (Table IV), with decision curves across methods.

- :mod:`~reactkd.experiments.variants`: which runs each table needs (config edits per row).
- :mod:`~reactkd.experiments.suite`: trains a set of variants on one cohort, folds and seeds, sharing
  caches and teachers, and writes the table and the decision-curve figure.
- :mod:`~reactkd.experiments.conditions`: re-evaluates a trained run under missing modalities or dose levels.
"""

from .conditions import dose_table, robustness_table
from .suite import SuiteResult, run_suite
from .variants import ABLATION_ROWS, COMPARE_METHODS, Variant, ablation_variants, compare_variants

__all__ = [
    "ABLATION_ROWS", "COMPARE_METHODS", "SuiteResult", "Variant", "ablation_variants", "compare_variants",
    "dose_table", "robustness_table", "run_suite",
]
