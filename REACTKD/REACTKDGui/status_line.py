"""The REACTKD panel's words: one problem line (what is wrong and what to do), the synthetic banner and
the log. A run that failed keeps its line until the next run starts."""

from __future__ import annotations

import logging

from REACTKDLib.errors import first_line

__all__ = ["StatusLine"]

log = logging.getLogger("REACTKD")


class StatusLine:
    """``problemLabel``, ``bannerLabel`` and ``logText`` of the panel; ``failure`` is the last run's problem."""

    def __init__(self, ui):
        self.ui = ui
        self.failure = ""

    def show(self, text) -> None:
        """One line naming the problem and what to do (its first line; the log keeps the details); ``""`` hides it."""
        self.ui.problemLabel.text = first_line(text)
        self.ui.problemLabel.visible = bool(self.ui.problemLabel.text)

    def report(self, text) -> None:
        """A run that could not start or failed: its line stays until the next run starts (``report("")``)."""
        self.failure = first_line(text)
        self.show(self.failure)

    def banner(self, text) -> None:
        """The synthetic-model banner above the results (``""`` hides it)."""
        self.ui.bannerLabel.text = text or ""
        self.ui.bannerLabel.visible = bool(text)

    def log(self, text: str) -> None:
        self.ui.logText.appendPlainText(text)
        log.info(text)
