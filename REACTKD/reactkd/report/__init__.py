"""The run report: ``RUN/report/index.md`` and a self-contained ``index.html`` with the cross-validated
tables, ROC, decision curves, t-SNE, training curves, topology maps and the calibration section.

- :mod:`~reactkd.report.run_report` — :func:`write_report`.
- :mod:`~reactkd.report.calibration` — the calibration section (calibrates the run where it is not yet).
- :mod:`~reactkd.report.html` — the markdown page as one HTML file with its figures embedded.
"""

from reactkd.report.run_report import write_report

__all__ = ["write_report"]
