"""The "simulate the protocol" tab of the sample-size dialog.

The closed form answers a marginal effect; this tab answers the study as
designed: the protocol's own randomizer, its arms and state-dependent
probabilities, the moderator, the real analysis (:mod:`labmrt.powersim`).
The form builds the same document an effects file holds (one can be loaded
into it), the trials run on the thread pool (:mod:`ui.widgets.worker`) with a progress
bar and Cancel, and the power curves per effect term come back to the GUI
thread. Nothing here computes: it collects, runs and shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labmrt.errors import LabmrtError, Problem
from labmrt.powersim.effects import (
    EffectsFile,
    checked_effects,
    load_effects,
)
from labmrt.powersim.run import SimulationResult, simulate_power
from labmrt.protocol import Protocol, load_protocol
from ui.analysis.effects_form import OutcomeBox
from ui.widgets import Job, button, int_spin_box, run_in_background, spin_box

CURVE_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037"]

#: Keys of an effects file the form does not show: what the session simulation reads.
_SESSION_KEYS = set(EffectsFile.model_fields) - {
    "protocol", "receipt", "states", "availability", "analysis", "outcomes",
}  # fmt: skip


def power_plot(width: int, height: int) -> pg.PlotWidget:
    """An empty power-by-participants plot (both tabs of the sample-size dialog draw one)."""
    plot = pg.PlotWidget()
    plot.setLabel("bottom", "participants")
    plot.setLabel("left", "power")
    plot.setYRange(0, 1, padding=0.02)
    plot.setMinimumSize(width, height)
    plot.setMouseEnabled(x=False, y=False)
    return plot


def _simulate(protocol, effects, ns, trials, *, control, **kw) -> SimulationResult:
    """On the pool thread: the JobControl reports progress and carries Cancel."""
    return simulate_power(protocol, effects, ns, trials, progress=control.progress, **kw)


class SimulationTab(QWidget):
    """Protocol and effects in; power per term and N out, computed off the GUI thread."""

    finished = Signal(object)  # SimulationResult, on the GUI thread

    def __init__(self, parent=None, *, protocol_path: str | Path | None = None):
        super().__init__(parent)
        self.setObjectName("simulate_protocol_tab")
        self.protocol: Protocol | None = None
        self._protocol_path: Path | None = None
        self.result: SimulationResult | None = None
        self.job: Job | None = None
        self.outcome_boxes: dict[str, OutcomeBox] = {}
        layout = QHBoxLayout(self)

        left = QWidget()
        form_box = QVBoxLayout(left)
        form_box.addWidget(self._study_group())
        form_box.addWidget(self._model_group())
        self.outcomes_host = QWidget()
        self.outcomes_layout = QVBoxLayout(self.outcomes_host)
        self.outcomes_layout.setContentsMargins(0, 0, 0, 0)
        form_box.addWidget(self.outcomes_host)
        form_box.addWidget(self._run_group())
        form_box.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(440)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        layout.addWidget(scroll)
        layout.addLayout(self._results_column(), 1)

        self.protocol_edit.editingFinished.connect(self._protocol_changed)
        if protocol_path is not None:
            self.set_protocol(protocol_path)

    # ------------------------------------------------------------------ layout
    def _study_group(self) -> QGroupBox:
        group = QGroupBox("Study")
        form = QFormLayout(group)
        path_row = QHBoxLayout()
        self.protocol_edit = QLineEdit()
        self.protocol_edit.setPlaceholderText("protocol file (.toml)")
        browse = button("Open…", self._browse_protocol)
        path_row.addWidget(self.protocol_edit, 1)
        path_row.addWidget(browse)
        form.addRow("Protocol", path_row)
        self.load_effects_button = button("Load effects file…", self._browse_effects)
        form.addRow("Effects", self.load_effects_button)
        return group

    def _model_group(self) -> QGroupBox:
        """The affective state's course, availability and receipt, as the simulation draws them."""
        group = QGroupBox("State, availability, receipt")
        form = QFormLayout(group)
        self.aroused_share = spin_box(0.01, 0.99, 0.3, 0.05)
        self.persistence = spin_box(0.0, 0.99, 0.5, 0.05)
        self.accuracy = spin_box(0.51, 1.0, 1.0, 0.01)
        self.avail_calm = spin_box(0.01, 1.0, 0.9, 0.05)
        self.avail_aroused = spin_box(0.01, 1.0, 0.9, 0.05)
        self.receipt = spin_box(0.01, 1.0, 1.0, 0.05)
        self.moderated = QCheckBox("moderated by affect_state")
        self.moderated.setChecked(True)
        form.addRow("Share aroused", self.aroused_share)
        form.addRow("State persistence", self.persistence)
        form.addRow("Classifier accuracy", self.accuracy)
        form.addRow("Available when calm", self.avail_calm)
        form.addRow("Available when aroused", self.avail_aroused)
        form.addRow("Framings received", self.receipt)
        form.addRow("Analysis", self.moderated)
        return group

    def _run_group(self) -> QGroupBox:
        """Sample sizes, trials, test and the processes that run them."""
        group = QGroupBox("Simulation")
        form = QFormLayout(group)
        grid_row = QHBoxLayout()
        self.n_from = int_spin_box(4, 100000, 20, 10)
        self.n_to = int_spin_box(4, 100000, 80, 10)
        self.n_step = int_spin_box(1, 10000, 10, 5)
        for text, box in (("from", self.n_from), ("to", self.n_to), ("step", self.n_step)):
            grid_row.addWidget(QLabel(text))
            grid_row.addWidget(box)
        form.addRow("Participants", grid_row)
        self.trials = int_spin_box(10, 1000000, 1000, 100)
        self.type_one = QCheckBox("also with every effect 0 (type I error)")
        self.type_one.setChecked(True)
        self.alpha = spin_box(0.001, 0.5, 0.05, 0.01, 3)
        self.target = spin_box(0.05, 0.999, 0.8, 0.05, 3)
        self.seed = int_spin_box(0, 2**31 - 1, 0)
        self.workers = int_spin_box(1, 64, 1)
        self.workers.setToolTip("local processes (each starts in about a second)")
        form.addRow("Trials per N", self.trials)
        form.addRow("", self.type_one)
        form.addRow("Significance level", self.alpha)
        form.addRow("Target power", self.target)
        form.addRow("Seed", self.seed)
        form.addRow("Processes", self.workers)
        return group

    def _results_column(self) -> QVBoxLayout:
        """Simulate and Cancel with the progress, the status line, the power curves, the table."""
        right = QVBoxLayout()
        buttons = QHBoxLayout()
        self.run_button = button("Simulate", self.start, name="simulate_run")
        self.cancel_button = button("Cancel", self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        right.addLayout(buttons)
        self.status = QLabel("Choose a protocol, enter the expected effects and press Simulate.")
        self.status.setObjectName("simulate_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        right.addWidget(self.status)
        self.plot = power_plot(420, 260)
        # top left: power rises with N, so the curves leave that corner empty
        self.legend = self.plot.addLegend(
            offset=(10, 10), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 230)
        )
        self.target_line = self.plot.addLine(y=0.8, pen=pg.mkPen("#999", style=Qt.DashLine))
        self.curves: list[pg.PlotDataItem] = []
        right.addWidget(self.plot, 1)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["term", "truth", "N for target", "type I error"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(150)
        right.addWidget(self.table)
        return right

    # ------------------------------------------------------------------ inputs
    def _browse_protocol(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Protocol", "", "Protocol (*.toml)")
        if path:
            self.set_protocol(path)

    def _browse_effects(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Effects file", "", "Effects (*.toml)")
        if path:
            self.load_effects_file(path)

    def _protocol_changed(self) -> None:
        text = self.protocol_edit.text().strip()
        if text and (self.protocol is None or Path(text) != self._protocol_path):
            self.set_protocol(text)

    def _error(self, message: str) -> None:
        self.status.setStyleSheet("color: #c62828;")
        self.status.setText(message)

    def _info(self, message: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(message)

    def set_protocol(self, path: str | Path) -> bool:
        """Load the protocol and lay out one effects box per proximal outcome."""
        self.protocol_edit.setText(str(path))
        self._protocol_path = Path(path)
        try:
            protocol = load_protocol(path)
        except LabmrtError as err:
            self.protocol = None
            self._error(err.message)
            return False
        self.protocol = protocol
        for box in self.outcome_boxes.values():
            box.setParent(None)
            box.deleteLater()
        self.outcome_boxes = {}
        arms = [a.id for a in protocol.arms if not a.baseline]
        for o in protocol.outcomes:
            box = OutcomeBox(o.name, o.measure == "any", arms)
            self.outcomes_layout.addWidget(box)
            self.outcome_boxes[o.name] = box
        self._info(
            f"{protocol.study.title}: {len(protocol.decision_task_indices())} decision points, "
            f"arms {', '.join(protocol.arm_ids)} (baseline {protocol.baseline_arm.id})."
        )
        return True

    def load_effects_file(self, path: str | Path) -> EffectsFile | None:
        """Fill the form from an effects file (checked against the protocol)."""
        if self.protocol is None:
            self._error("Open the protocol first.")
            return None
        try:
            model = load_effects(path, self.protocol, stated=True)
            self.fill(model, str(path))
        except LabmrtError as err:
            self._error(err.message)
            return None
        self._info(f"Effects loaded from {path}.")
        return model

    def fill(self, model: EffectsFile, where: str = "effects") -> None:
        """Show ``model`` (binary effects as relative risks); LabmrtError if one cannot be."""
        self.aroused_share.setValue(model.states.aroused_share)
        self.persistence.setValue(model.states.persistence)
        self.accuracy.setValue(model.states.accuracy)
        self.avail_calm.setValue(model.availability.for_state("calm"))
        self.avail_aroused.setValue(model.availability.for_state("aroused"))
        self.receipt.setValue(model.receipt)
        self.moderated.setChecked(bool(model.analysis.moderator))
        self._analysis = model.analysis
        # what only `labmrt simulate` reads (the participants' behaviour, [correct]): not
        # shown, written back as the file has it
        self._unshown = model.model_dump(include=set(model.model_fields_set) & _SESSION_KEYS)
        for name, box in self.outcome_boxes.items():
            box.setChecked(name in model.outcomes)
            box.set_analysis(None)
            if name in model.outcomes:
                try:
                    box.fill(model.outcomes[name])
                except ValueError as err:
                    what, _, fix = str(err).partition(" || ")
                    raise LabmrtError(Problem(f"{where}: outcomes.{name}", what, fix)) from None

    def document(self) -> dict[str, Any]:
        """The form as an effects document (the shape of an effects file)."""
        analysis = getattr(self, "_analysis", None)
        analysis_doc = analysis.model_dump(exclude_none=True) if analysis is not None else {}
        analysis_doc["moderators"] = ["affect_state"] if self.moderated.isChecked() else []
        return {
            "states": {
                "aroused_share": self.aroused_share.value(),
                "persistence": self.persistence.value(),
                "accuracy": self.accuracy.value(),
            },
            "availability": {
                # the overall share (only informative: the shares by state are used)
                "share": round(
                    self.aroused_share.value() * self.avail_aroused.value()
                    + (1 - self.aroused_share.value()) * self.avail_calm.value(),
                    12,
                ),
                "by_state": {
                    "calm": self.avail_calm.value(),
                    "aroused": self.avail_aroused.value(),
                },
            },
            "receipt": self.receipt.value(),
            "analysis": analysis_doc,
            "outcomes": {n: b.document() for n, b in self.outcome_boxes.items() if b.isChecked()},
            **getattr(self, "_unshown", {}),
        }

    def effects(self) -> EffectsFile:
        """The form's model, checked against the protocol; binary effects as relative risks
        (``simulate_power`` draws them as the differences they imply)."""
        if self.protocol is None:
            raise LabmrtError("open a protocol first")
        return checked_effects(self.document(), self.protocol, "form")

    def sample_sizes(self) -> list[int]:
        lo, hi, step = self.n_from.value(), self.n_to.value(), self.n_step.value()
        return list(range(lo, max(lo, hi) + 1, step))

    # ------------------------------------------------------------------ running
    def start(self) -> Job | None:
        if self.job is not None and self.job.running:
            return self.job
        try:
            effects = self.effects()
        except LabmrtError as err:
            self._error(err.message)
            return None
        trials = self.trials.value()
        self.progress.setRange(0, trials * (2 if self.type_one.isChecked() else 1))
        self.progress.setValue(0)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._info(f"Simulating {trials} studies at each of {len(self.sample_sizes())} N …")
        self.job = run_in_background(
            _simulate,
            self.protocol,
            effects,
            self.sample_sizes(),
            trials,
            alpha=self.alpha.value(),
            target=self.target.value(),
            seed=self.seed.value(),
            null_trials=trials if self.type_one.isChecked() else 0,
            workers=self.workers.value(),
            on_done=self._done,
            on_error=self._failed,
            on_progress=self._progressed,
            with_control=True,
        )
        self.job.ended.connect(self._ended)
        return self.job

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self._info("Cancelling after the running trials …")

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _ended(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _failed(self, message: str, details: str) -> None:
        self._error(message)

    def _done(self, result: SimulationResult) -> None:
        self.result = result
        self.show_result(result)
        self.finished.emit(result)

    def show_result(self, result: SimulationResult) -> None:
        self.plot.clear()
        self.legend.clear()
        self.curves = []
        self.target_line = self.plot.addLine(
            y=result.target, pen=pg.mkPen("#999", style=Qt.DashLine)
        )
        pairs: list[tuple[str, str]] = []
        for tp in result.terms:
            pair = (tp.term.outcome, tp.term.treated)
            if pair not in pairs:
                pairs.append(pair)
            # one colour per outcome and contrast; dashed: the moderation term
            colour = CURVE_COLOURS[pairs.index(pair) % len(CURVE_COLOURS)]
            dashed = tp.term.name != "(Intercept)"
            pen = pg.mkPen(colour, width=2, style=Qt.DashLine if dashed else Qt.SolidLine)
            curve = self.plot.plot(
                result.ns, tp.power, pen=pen, symbol="o", symbolSize=5, symbolBrush=colour,
                name=f"{tp.term.outcome}: {tp.term.treated}: {tp.term.name}",
            )  # fmt: skip
            self.curves.append(curve)
        null = {(t.term.outcome, t.term.treated, t.term.name): t for t in result.type_one}
        self.table.setRowCount(len(result.terms))
        for row, tp in enumerate(result.terms):
            t = tp.term
            found = str(tp.n_for_target) if tp.n_for_target is not None else f"> {result.ns[-1]}"
            nt = null.get((t.outcome, t.treated, t.name))
            type_one = (
                f"{min(nt.power):.3f}–{max(nt.power):.3f}" if nt is not None and nt.power else "–"
            )
            for col, text in enumerate((t.label, f"{t.truth:.3f}", found, type_one)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                if col == 0:
                    item.setToolTip(t.meaning)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        state = " (cancelled: the trials done so far)" if result.cancelled else ""
        self._info(
            f"{result.trials_done} trials per N in {result.seconds:.1f} s{state}; "
            f"power at α = {result.alpha:g}, dashed: moderation terms."
        )
