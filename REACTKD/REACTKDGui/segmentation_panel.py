"""Segment liver and tumours: the tool (TotalSegmentator where that extension is installed, the one for a
patient's CT; a ReCo-KD model from ``reactkd seg-distill`` always), why the button is disabled, the
synthetic banner of a phantom-trained model, the run (TotalSegmentator through its own logic; the ReCo-KD
model in the background on the panel's timer) and its result selected as the segmentation for Apply.
"""

from __future__ import annotations

from REACTKDGui.settings import SEGMENT_SOURCE, save_value, saved_value
from REACTKDGui.slicer_modules import totalsegmentator_installed
from REACTKDLib.jobs import SEGMENT, PanelJob
from REACTKDLib.model_picker import segmentation_banner
from REACTKDLib.provenance import mark_results
from REACTKDLib.segmentation import segment_problems
from REACTKDLib.totalsegmentator import segment_sources

__all__ = ["SegmentationPanel"]


class SegmentationPanel:
    def __init__(self, ui, logic, parameters, jobs, status_line, updating, on_change):
        self.ui, self.logic, self.parameters, self.jobs = ui, logic, parameters, jobs
        self.status_line, self.updating, self.on_change = status_line, updating, on_change
        ui.segmentSourceComboBox.connect("currentIndexChanged(int)", self.on_source_chosen)
        ui.segmentButton.connect("clicked(bool)", self.start)
        jobs.finishers[SEGMENT] = self.finish
        self._banner: tuple[str, str] | None = None  # (model path, its banner): read once per model, not per refresh
        self._fill_sources()

    @property
    def source(self) -> str:
        """``"totalsegmentator"`` or ``"reactkd"``."""
        return self.ui.segmentSourceComboBox.currentData or "reactkd"

    def refresh(self) -> None:
        p = self.parameters()
        problems = segment_problems(p.ctVolume, p.segmentation, self.source, str(p.segModelPath))
        self.ui.segmentButton.enabled = not problems
        self.ui.segmentButton.toolTip = "\n".join(problems) or (
            "Segment the liver and tumours of the CT; the result is selected as the segmentation for Apply.")
        reactkd = self.source == "reactkd"
        self.ui.segModelPathLineEdit.visible = reactkd
        banner = self._model_banner(str(p.segModelPath)) if reactkd else ""
        self.ui.segmentBannerLabel.text = banner
        self.ui.segmentBannerLabel.visible = bool(banner)

    def _model_banner(self, path: str) -> str:
        """:func:`segmentation_banner` of ``path``, remembered until another model is chosen (a refresh runs on
        every parameter change; the banner needs a file read)."""
        if self._banner is None or self._banner[0] != path:
            self._banner = (path, segmentation_banner(path))
        return self._banner[1]

    def on_source_chosen(self, index: int) -> None:
        if self.updating:
            return
        save_value(SEGMENT_SOURCE, self.source)
        self.on_change()

    def start(self) -> None:
        if self.jobs.busy:
            return
        p = self.parameters()
        if self.source == "totalsegmentator":
            def run():  # TotalSegmentator's own logic runs synchronously and keeps the event loop turning
                node = self.logic.segmentWithTotalSegmentator(p.ctVolume, cpu=p.device == "cpu")
                self.select(node, "TotalSegmentator")

            self.jobs.start_guarded("segmentation", run)
            return

        def start():
            job, handle = self.logic.startSegmentation(p.ctVolume, str(p.segModelPath), p.device)
            self.status_line.log(f"Segmenting {p.ctVolume.GetName()} with {p.segModelPath}…")
            self.jobs.start(PanelJob(SEGMENT, handle, p.ctVolume, job))

        self.jobs.start_guarded("segmentation", start)

    def finish(self, job) -> None:
        model = str(self.parameters().segModelPath)
        node = self.logic.importSegmentation(job.ct, job)
        banner = segmentation_banner(model)
        mark_results([node], model, banner)  # the result says what made it
        if banner:
            self.status_line.log(banner)
        self.select(node, "the ReCo-KD model")

    def select(self, node, tool: str) -> None:
        """Make ``node`` the segmentation to grade: its "liver" and "tumor" segments are pre-selected."""
        self.parameters().segmentation = node
        self.status_line.log(f"Segmentation {node.GetName()!r} ({tool}) is selected; check it, then press Apply.")

    def _fill_sources(self) -> None:
        sources = segment_sources(totalsegmentator_installed())
        keys = [key for key, _ in sources]
        saved = saved_value(SEGMENT_SOURCE, keys[0])
        with self.updating:
            combo = self.ui.segmentSourceComboBox
            combo.clear()
            for key, label in sources:
                combo.addItem(label, key)
            combo.setCurrentIndex(keys.index(saved) if saved in keys else 0)
