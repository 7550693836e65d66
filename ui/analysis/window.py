"""The analysis view: pick the analysis from the codebook, run it off the GUI thread, save it.

Everything statistical is :mod:`labmrt.analysis`; this window loads an export
(or exports a study folder first), offers outcomes, contrasts, moderators and
controls as lists built from the codebook (:mod:`labmrt.export.analysis_data`),
runs the fit and the randomization check (:mod:`labmrt.analysis.choice`) on a
worker thread with a progress bar and a cancel button, shows the effect table
and the effect-by-moderator plot, and saves CSV, JSON, PNG/SVG and a short
HTML report. *Report…* writes the study report of a pre-registered plan
(:mod:`labmrt.report.study_report`) on a worker thread.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from labmrt.analysis.choice import (
    AnalysisChoice,
    AnalysisOutcome,
    headline,
    run_analysis,
    run_randomization_check,
    save_effect_plot,
)
from labmrt.errors import LabmrtError, Problem
from labmrt.export import AnalysisData, load_folder
from ui.analysis.lists import check_list, checked_names, fill_check_list, frame_to_table
from ui.analysis.sample_size import SampleSizeDialog
from ui.widgets import Job, button, int_spin_box, label, run_in_background, show_error

#: The estimators the analysis view offers, with the outcome each is for.
METHODS = {
    "wcls": "WCLS: continuous outcome (effect on the mean)",
    "emee": "EMEE: binary outcome (log relative risk)",
}


class AnalysisWindow(QMainWindow):
    """Open data, choose the analysis, run it, check it, save it."""

    def __init__(self, folder: Path | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("analysis_window")
        self.setWindowTitle("labmrt: analysis")
        self.resize(1300, 820)
        self.setMinimumSize(960, 620)
        self.data: AnalysisData | None = None
        self.outcome: AnalysisOutcome | None = None
        self.check_result = None
        self._job: Job | None = None
        self._check_job: Job | None = None
        self._report_job: Job | None = None
        self.report_path: Path | None = None
        self.report_bundle: Path | None = None

        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self._data_group())
        column.addWidget(self._analysis_group())
        column.addWidget(self._check_group())
        column.addLayout(self._output_row())
        self.report_label = label(name="report_label", wrap=True)
        column.addWidget(self.report_label)
        column.addStretch(1)

        central = QSplitter(Qt.Horizontal)
        central.addWidget(left)
        central.addWidget(self._results_panel())
        central.setStretchFactor(1, 1)
        central.setSizes([420, 880])
        self.setCentralWidget(central)
        self._update_buttons()
        if folder is not None:
            self.open_folder(folder)

    # ------------------------------------------------------------------ layout
    def _data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        box = QVBoxLayout(group)
        row = QHBoxLayout()
        self.open_button = button("Open export or study folder…", self._browse, name="open_data")
        row.addWidget(self.open_button)
        box.addLayout(row)
        self.data_label = label("No data loaded.", name="data_label", wrap=True)
        box.addWidget(self.data_label)
        return group

    def _analysis_group(self) -> QGroupBox:
        """Method, outcome, contrast, moderators, controls: every list is from the codebook."""
        group = QGroupBox("Analysis")
        form = QFormLayout(group)
        self.method = QComboBox()
        self.method.setObjectName("method")
        for key, text in METHODS.items():
            self.method.addItem(text, key)
        self.outcome_combo = QComboBox()
        self.outcome_combo.setObjectName("outcome")
        self.contrast_combo = QComboBox()
        self.contrast_combo.setObjectName("contrast")
        self.moderators = check_list("moderators")
        self.controls = check_list("controls")
        self.numerator = QComboBox()
        self.numerator.setObjectName("numerator_prob")
        self.numerator.addItem("0.5 (as MRTAnalysis)", 0.5)
        self.numerator.addItem("mean randomization probability", "mean")
        form.addRow("Method", self.method)
        form.addRow("Outcome", self.outcome_combo)
        form.addRow("Contrast", self.contrast_combo)
        form.addRow("Moderators", self.moderators)
        form.addRow("Controls", self.controls)
        form.addRow("Numerator probability", self.numerator)
        self.per_protocol = QCheckBox("Per-protocol: only framings that were received")
        self.per_protocol.setObjectName("per_protocol")
        self.per_protocol.setToolTip(
            "Intent-to-treat (unticked) is protected by the randomization; per-protocol is not."
        )
        form.addRow(self.per_protocol)
        self.run_button = button(
            "Run analysis  (Ctrl+R)", self.run, name="run_analysis", shortcut="Ctrl+R"
        )
        form.addRow(self.run_button)
        return group

    def _check_group(self) -> QGroupBox:
        group = QGroupBox("Randomization check")
        form = QFormLayout(group)
        self.draws = int_spin_box(100, 100000, 5000, 500)
        self.draws.setObjectName("draws")
        form.addRow("Re-draws", self.draws)
        row = QHBoxLayout()
        self.check_button = button("Run check", self.run_check, name="run_check")
        self.cancel_button = button("Cancel", self.cancel_check, name="cancel_check")
        self.cancel_button.setEnabled(False)
        row.addWidget(self.check_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.check_progress = QProgressBar()
        self.check_progress.setObjectName("check_progress")
        form.addRow(self.check_progress)
        self.check_label = label(name="check_label", wrap=True)
        form.addRow(self.check_label)
        return group

    def _output_row(self) -> QHBoxLayout:
        """Sample size, the study report, saving."""
        row = QHBoxLayout()
        self.sample_size_button = button("Sample size…", self.open_sample_size, name="sample_size")
        self.save_button = button(
            "Save results…  (Ctrl+S)", self._save_dialog, name="save_results", shortcut="Ctrl+S"
        )
        self.report_button = button(
            "Report…",
            self._report_dialog,
            name="study_report",
            tooltip="The study report of an analysis plan: flow, randomization, data quality, "
            "hypotheses, robustness, deviations (one HTML file)",
        )
        row.addWidget(self.sample_size_button)
        row.addWidget(self.report_button)
        row.addWidget(self.save_button)
        return row

    def _results_panel(self) -> QSplitter:
        """The headline and effect table, the effect plot, the analyzer's full summary."""
        panel = QSplitter(Qt.Vertical)
        results = QWidget()
        results_box = QVBoxLayout(results)
        results_box.setContentsMargins(0, 0, 0, 0)
        self.summary = label(
            "Run an analysis to see the effects.", name="analysis_summary", wrap=True
        )
        results_box.addWidget(self.summary)
        self.table = QTableWidget()
        self.table.setObjectName("effects_table")
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        results_box.addWidget(self.table)
        panel.addWidget(results)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("effect_plot")
        self.plot.setMinimumHeight(240)
        self.plot.addLine(y=0, pen=pg.mkPen("#999", style=Qt.DashLine))
        self.plot.setLabel("left", "effect")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        panel.addWidget(self.plot)
        self.details = QPlainTextEdit()
        self.details.setObjectName("analysis_details")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.details.setMinimumHeight(120)
        panel.addWidget(self.details)
        panel.setSizes([170, 380, 230])
        return panel

    # ------------------------------------------------------------------ data
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export or study folder")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> Job:
        self.data_label.setText(f"Loading {folder} …")
        self.open_button.setEnabled(False)
        job = run_in_background(
            load_folder, folder, on_done=self.set_data, on_error=self._load_failed
        )
        job.ended.connect(lambda: self.open_button.setEnabled(True))
        job.ended.connect(self._update_buttons)
        self._job = job
        return job

    def _load_failed(self, message: str, details: str) -> None:
        self.data_label.setText("No data loaded.")
        show_error(self, "Cannot open the data", message, details)

    def set_data(self, data: AnalysisData) -> None:
        self.data = data
        self.data_label.setText(f"{data.folder}\n{data.describe()}")
        self.outcome_combo.clear()
        for name in data.outcomes:
            self.outcome_combo.addItem(name, name)
            self.outcome_combo.setItemData(
                self.outcome_combo.count() - 1, self._describe(name), Qt.ToolTipRole
            )
        self.contrast_combo.clear()
        for text, arm, versus in data.contrasts():
            self.contrast_combo.addItem(text, (arm, versus))
        fill_check_list(self.moderators, data.moderators, self._describe)
        fill_check_list(self.controls, data.controls, self._describe)
        self._update_buttons()

    def _describe(self, name: str) -> str:
        if self.data is None:
            return ""
        col = self.data.columns.get(name, {})
        unit = f" [{col['unit']}]" if col.get("unit") else ""
        return f"{col.get('meaning', '')}{unit}"

    # ------------------------------------------------------------------ analysis
    def choice(self) -> AnalysisChoice:
        if self.data is None:
            raise LabmrtError(Problem("data", "no data loaded", "open an export first"))
        if self.outcome_combo.currentData() is None:
            raise LabmrtError(Problem("outcome", "the export has no outcome column"))
        if self.contrast_combo.currentData() is None:
            raise LabmrtError(Problem("contrast", "the export has fewer than two arms"))
        arm, versus = self.contrast_combo.currentData()
        numerator = self.numerator.currentData()
        if numerator == "mean":
            numerator = self._mean_probability(arm, versus)
        return AnalysisChoice(
            method=self.method.currentData(),
            outcome=self.outcome_combo.currentData(),
            treatment_arm=arm,
            control_arms=(versus,) if versus else None,
            moderators=checked_names(self.moderators),
            controls=checked_names(self.controls),
            numerator_prob=numerator,
            per_protocol=self.per_protocol.isChecked(),
        )

    def _mean_probability(self, arm: str, versus: str | None) -> float:
        frame = self.data.frame
        avail = frame[frame["available"] == 1]
        p = avail[f"prob_{arm}"]
        if versus:
            p = p / (p + avail[f"prob_{versus}"])
        return float(p.mean())

    def run(self) -> Job | None:
        try:
            choice = self.choice()
        except LabmrtError as err:
            show_error(self, "Cannot run the analysis", err.message)
            return None
        self.run_button.setEnabled(False)
        self.summary.setText("Running …")
        job = run_in_background(
            run_analysis, self.data, choice, on_done=self.show_outcome, on_error=self._run_failed
        )
        job.ended.connect(self._update_buttons)
        self._job = job
        return job

    def _run_failed(self, message: str, details: str) -> None:
        self.summary.setText("The analysis did not run.")
        show_error(self, "The analysis did not run", message, details)

    def show_outcome(self, outcome: AnalysisOutcome) -> None:
        self.outcome = outcome
        self.summary.setText(headline(outcome))
        frame_to_table(self.table, outcome.table)
        self.details.setPlainText(outcome.summary)
        self._plot(outcome)
        self._update_buttons()

    def _plot(self, outcome: AnalysisOutcome) -> None:
        plot = self.plot
        for item in getattr(self, "_plot_items", []):
            plot.removeItem(item)
        self._plot_items = []
        blue = pg.mkColor("#1565c0")
        curve = outcome.curve
        contrast = outcome.choice.contrast_label
        if curve is not None and not pd.api.types.is_numeric_dtype(curve[curve.columns[0]]):
            # categorical moderator: one point with its interval per level
            name = curve.columns[0]
            plot.setTitle(f"Effect of {contrast} by {name} (95% CI)", size="10pt")
            plot.setLabel("bottom", name)
            x = np.arange(len(curve))
            ticks = [[(i, str(v)) for i, v in enumerate(curve[name])]]
            est, lo, hi = (curve[c].to_numpy(float) for c in ("estimate", "ci_lower", "ci_upper"))
        elif curve is not None:
            name = curve.columns[0]
            plot.setTitle(f"Effect of {contrast} by {name} (95% CI)", size="10pt")
            plot.setLabel("bottom", name)
            x = curve[name].to_numpy(float)
            est, lo, hi = (curve[c].to_numpy(float) for c in ("estimate", "ci_lower", "ci_upper"))
            upper = plot.plot(x, hi, pen=pg.mkPen("#90caf9"))
            lower = plot.plot(x, lo, pen=pg.mkPen("#90caf9"))
            band = pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(21, 101, 192, 40))
            line = plot.plot(x, est, pen=pg.mkPen(blue, width=2))
            plot.addItem(band)
            self._plot_items += [upper, lower, band, line]
            plot.getAxis("bottom").setTicks(None)
            return
        else:
            table = outcome.table
            plot.setTitle(f"Effects of {contrast} (95% CI)", size="10pt")
            plot.setLabel("bottom", "term")
            x = np.arange(len(table))
            ticks = [[(i, str(t)) for i, t in enumerate(table["term"])]]
            est = table["estimate"].to_numpy(float)
            lo, hi = table["ci_lower"].to_numpy(float), table["ci_upper"].to_numpy(float)
        bars = pg.ErrorBarItem(x=x, y=est, top=hi - est, bottom=est - lo, beam=0.15, pen=blue)
        points = plot.plot(x, est, pen=None, symbol="o", symbolBrush=blue, symbolPen=blue)
        plot.addItem(bars)
        self._plot_items += [bars, points]
        plot.getAxis("bottom").setTicks(ticks)
        plot.setXRange(-0.5, len(x) - 0.5)

    # ------------------------------------------------------------------ randomization check
    def run_check(self) -> Job | None:
        try:
            choice = self.choice()
        except LabmrtError as err:
            show_error(self, "Cannot run the check", err.message)
            return None
        self.check_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.check_progress.setRange(0, self.draws.value())
        self.check_progress.setValue(0)
        self.check_label.setText("Re-drawing the treatment …")
        job = run_in_background(
            run_randomization_check,
            self.data,
            choice,
            self.draws.value(),
            with_control=True,
            on_done=self._check_done,
            on_error=self._check_failed,
            on_progress=self._check_progress,
        )
        job.ended.connect(self._check_ended)
        self._check_job = job
        return job

    def cancel_check(self) -> None:
        if self._check_job is not None:
            self._check_job.cancel()
            self.check_label.setText("Cancelling …")

    def _check_progress(self, done: int, total: int) -> None:
        self.check_progress.setRange(0, total)
        self.check_progress.setValue(done)

    def _check_done(self, result) -> None:
        self.check_result = result
        lines = []
        for term in result.terms:
            lines.append(
                f"{term.name}: randomization p = {term.randomization_p:.4f}; "
                f"{100 * term.share_significant:.1f}% of re-drawn fits significant"
            )
        state = "cancelled after" if result.cancelled else "done:"
        self.check_label.setText(
            f"{state} {result.draws_done} re-draws in {result.seconds:.2f} s\n" + "\n".join(lines)
        )

    def _check_failed(self, message: str, details: str) -> None:
        self.check_label.setText("The check did not run.")
        show_error(self, "The randomization check did not run", message, details)

    def _check_ended(self) -> None:
        self.check_button.setEnabled(self.data is not None)
        self.cancel_button.setEnabled(False)

    # ------------------------------------------------------------------ sample size, saving
    def open_sample_size(self) -> SampleSizeDialog:
        dialog = SampleSizeDialog(self)
        dialog.open()
        self._sample_size = dialog
        return dialog

    def _save_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save results into")
        if folder:
            self.save_results(Path(folder))

    def save_results(self, folder: Path) -> dict[str, Path]:
        """Write effects.csv, analysis.json, effect_plot.png/.svg and report.html."""
        if self.outcome is None:
            show_error(self, "Nothing to save", "Run an analysis first.")
            return {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            written = {"csv": folder / "effects.csv", "json": folder / "analysis.json"}
            self.outcome.table.to_csv(written["csv"], index=False)
            payload = self.outcome.to_dict()
            if self.check_result is not None:
                payload["randomization_check"] = self.check_result.to_dict()
            written["json"].write_text(json.dumps(payload, indent=2, default=str), "utf-8")
            written["png"] = save_effect_plot(self.outcome, folder / "effect_plot.png")
            written["svg"] = save_effect_plot(self.outcome, folder / "effect_plot.svg")
            written["html"] = folder / "report.html"
            written["html"].write_text(self.report_html(), "utf-8")
        except OSError as err:
            show_error(self, "Could not save", f"{folder}: {err.strerror or err}")
            return {}
        self.statusBar().showMessage(f"Saved {len(written)} files to {folder}")
        return written

    def report_html(self) -> str:
        o = self.outcome
        assert o is not None
        rows = o.choice.to_dict()
        meta = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        check = ""
        if self.check_result is not None:
            check = (
                "<h2>Randomization check</h2><pre>"
                + html.escape(self.check_label.text())
                + "</pre>"
            )
        data = html.escape(self.data.describe()) if self.data else ""
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>labmrt analysis</title>"
            "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
            "text-align:right}th{text-align:left}</style></head><body>"
            f"<h1>Causal excursion effect: {html.escape(o.choice.contrast_label)}</h1>"
            f"<p>{data}</p><p>{html.escape(o.summary)}</p>"
            f"<h2>Analysis</h2><table>{meta}</table>"
            f"<h2>Effects</h2>{o.table.to_html(index=False, float_format=lambda v: f'{v:.4g}')}"
            f"<h2>Plot</h2><img src='effect_plot.svg' alt='effect plot' width='800'>"
            f"{check}</body></html>"
        )

    # ------------------------------------------------------------------ study report
    def study_folder(self) -> Path | None:
        """The study folder of the loaded data: the folder itself, or the one it was exported from."""
        from labmrt.store import DB_NAME

        if self.data is None:
            return None
        for folder in (self.data.folder, self.data.folder.parent):
            if (folder / DB_NAME).is_file():
                return folder
        return None

    def _report_dialog(self) -> None:
        plan, _ = QFileDialog.getOpenFileName(
            self, "Analysis plan", "", "Analysis plan (*.toml);;All files (*)"
        )
        if not plan:
            return
        out, _ = QFileDialog.getSaveFileName(
            self, "Save the report as", "report.html", "HTML (*.html)"
        )
        if out:
            self.make_report(Path(plan), Path(out), open_when_done=True)

    def make_report(
        self, plan: Path, out: Path, bundle: Path | None = None, *, open_when_done: bool = False
    ) -> Job | None:
        """Write the study report of ``plan`` into ``out`` on a worker thread.

        A plan taken from a pre-registration bundle (``BUNDLE/study/plan.toml``)
        is compared with that registration unless ``bundle`` names another.
        """
        from labmrt.report.study_report import write_report

        study = self.study_folder()
        if study is None:
            show_error(
                self,
                "No study folder",
                "The report reads the sessions themselves: open the study folder (the one "
                "holding labmrt.sqlite) or an export inside it.",
            )
            return None
        if bundle is None and (plan.parent.parent / "registration.json").is_file():
            bundle = plan.parent.parent  # a plan inside a pre-registration bundle: compare with it
        self.report_bundle = bundle
        self.report_button.setEnabled(False)
        self.report_label.setText(f"Writing the report of {plan.name} …")

        def done(path: Path) -> None:
            self.report_path = Path(path)
            self.report_label.setText(f"Report: {path}")
            self.statusBar().showMessage(f"Report written to {path}")
            if open_when_done:
                from PySide6.QtCore import QUrl
                from PySide6.QtGui import QDesktopServices

                QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

        def failed(message: str, details: str) -> None:
            self.report_label.setText("The report was not written.")
            show_error(self, "The report was not written", message, details)

        job = run_in_background(
            write_report, study, plan, out, bundle, on_done=done, on_error=failed
        )
        job.ended.connect(self._update_buttons)
        self._report_job = job
        return job

    def _update_buttons(self) -> None:
        has = self.data is not None
        running = self._job is not None and self._job.running
        self.run_button.setEnabled(has and not running)
        checking = self._check_job is not None and self._check_job.running
        self.check_button.setEnabled(has and not checking)
        self.save_button.setEnabled(self.outcome is not None)
        reporting = self._report_job is not None and self._report_job.running
        self.report_button.setEnabled(has and not reporting)
