"""The embedded phantom cohort: synthetic HCC patients whose grade drives their appearance by stated rules,
written as an ordinary manifest + NIfTI files, and the trait oracle (what those images hold at a cohort size).

- :mod:`~reactkd.phantom.cohort` — :func:`generate_cohort` (the entry point), reuse and refusal of a folder.
- :mod:`~reactkd.phantom.rules` — every number tying appearance to grade.
- :mod:`~reactkd.phantom.anatomy` — shapes in world space to CT, PET and masks.
- :mod:`~reactkd.phantom.site` — the acquiring site (scanner, contrast phase).
- :mod:`~reactkd.phantom.writer` — the files, ``manifest.csv``, ``cohort.json`` and the cohort's README.
- :mod:`~reactkd.phantom.oracle` — logistic regressions on the hidden traits, the tables' reference rows.
"""

from reactkd.phantom.cohort import generate_cohort

__all__ = ["generate_cohort"]
