"""The "simulate the protocol" tab of the sample-size dialog.

The closed form answers a marginal effect; this tab answers the study as
designed: the protocol's own randomizer, its arms and state-dependent
probabilities, the moderator, the real analysis (:mod:`labmrt.powersim`).
The form builds the same document an effects file holds (one can be loaded
into it), the trials run on the thread pool (``ui.worker``) with a progress
bar and Cancel, and the power curves per effect term come back to the GUI
thread. Nothing here computes: it collects, runs and shows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labmrt.errors import LabmrtError, Problem
from labmrt.powersim.effects import (
    STATES,
    AnalysisPlan,
    EffectsFile,
    OutcomeModel,
    checked_effects,
    load_effects,
)
from labmrt.powersim.run import SimulationResult, simulate_power
from labmrt.protocol import Protocol, load_protocol
from ui import style  # noqa: F401 - pyqtgraph colours
from ui.worker import Job, run_in_background

CURVE_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037"]


def spin_box(lo: float, hi: float, value: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    """A number box (the closed-form tab uses it too)."""
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _int_spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _simulate(protocol, effects, ns, trials, *, control, **kw) -> SimulationResult:
    """On the pool thread: the JobControl reports progress and carries Cancel."""
    return simulate_power(protocol, effects, ns, trials, progress=control.progress, **kw)


def _keep(box: QDoubleSpinBox, value: float) -> None:
    """Show ``value`` and remember it unrounded: a box shows a few decimals, the file may
    hold more (a relative risk computed from a risk difference)."""
    box.setValue(value)
    box.setProperty("exact", float(value))


def _read(box: QDoubleSpinBox) -> float:
    """The value remembered by :func:`_keep` while the box still shows it, else the box's."""
    exact = box.property("exact")
    if exact is not None and abs(box.value() - exact) < 0.5 * 10.0 ** -box.decimals():
        return float(exact)
    return box.value()


def _relative_risks(model: OutcomeModel, arms: list[str]) -> dict[str, dict[str, float]]:
    """A binary outcome's effects as relative risks per arm and state, however the file
    states them (risk differences: RR = (baseline + difference) / baseline)."""
    key, stated = model.stated()
    out: dict[str, dict[str, float]] = {}
    for arm in arms:
        if arm not in stated:
            out[arm] = {s: 1.0 for s in STATES}
            continue
        out[arm] = {}
        for s in STATES:
            value = stated[arm][s]
            if key == "relative_risk":
                out[arm][s] = value
            elif key == "log_relative_risk":
                out[arm][s] = math.exp(value)
            elif model.baseline[s] > 0:
                out[arm][s] = (model.baseline[s] + value) / model.baseline[s]
            elif value == 0:
                out[arm][s] = 1.0
            else:
                raise ValueError(
                    f"effects.{arm}.{s} is a risk difference from a baseline of 0, which no "
                    "relative risk gives || give the baseline probability (> 0)"
                )
    return out


def _options_text(analysis: AnalysisPlan) -> str:
    """``contrasts = ["loss-vs-baseline"], moderators = []``: TOML as the file writes it."""
    return ", ".join(
        f"{k} = {json.dumps(v)}" for k, v in analysis.model_dump(exclude_unset=True).items()
    )


class _OutcomeBox(QGroupBox):
    """Baseline, spread and effects of one proximal outcome, per state.

    A binary outcome's effects are relative risks, the scale EMEE estimates
    and the truth of its tested terms; a continuous outcome's are differences
    on its analyzed scale. The outcome's own analysis options from a file
    (``[outcomes.NAME.analysis]``) are not edited here but kept and shown.
    """

    def __init__(self, name: str, binary: bool, arms: list[str]):
        kind = "binary: relative risk, EMEE" if binary else "continuous"
        super().__init__(f"{name} ({kind})")
        self.name, self.binary, self.arms = name, binary, arms
        self.own_analysis: AnalysisPlan | None = None
        self.setCheckable(True)
        column = QVBoxLayout(self)
        grid = QGridLayout()
        column.addLayout(grid)
        grid.addWidget(QLabel("calm"), 0, 1)
        grid.addWidget(QLabel("aroused"), 0, 2)
        lo, hi = (0.0, 1.0) if binary else (-1000.0, 1000.0)
        self.baseline = {s: spin_box(lo, hi, 0.0, 0.05, 3) for s in STATES}
        grid.addWidget(QLabel("baseline"), 1, 0)
        for j, s in enumerate(STATES):
            grid.addWidget(self.baseline[s], 1, j + 1)
        self.effects: dict[str, dict[str, QDoubleSpinBox]] = {}
        for i, arm in enumerate(arms):
            if binary:
                # 0 can be typed and is reported on Simulate: a relative risk is > 0
                self.effects[arm] = {s: spin_box(0.0, 100.0, 1.0, 0.05, 3) for s in STATES}
                label = f"relative risk of {arm}"
            else:
                self.effects[arm] = {s: spin_box(-100.0, 100.0, 0.0, 0.05, 3) for s in STATES}
                label = f"effect of {arm}"
            grid.addWidget(QLabel(label), i + 2, 0)
            for j, s in enumerate(STATES):
                grid.addWidget(self.effects[arm][s], i + 2, j + 1)
        row = len(arms) + 2
        self.sd = spin_box(0.001, 1000.0, 1.0, 0.1, 3)
        self.icc = spin_box(0.0, 0.99, 0.3, 0.05, 2)
        self.participant_sd = spin_box(0.0, 1.0, 0.0, 0.05, 3)
        if binary:
            grid.addWidget(QLabel("participant SD"), row, 0)
            grid.addWidget(self.participant_sd, row, 1)
        else:
            grid.addWidget(QLabel("SD within / ICC"), row, 0)
            grid.addWidget(self.sd, row, 1)
            grid.addWidget(self.icc, row, 2)
        self.analysis_note = QLabel()
        self.analysis_note.setWordWrap(True)
        self.analysis_note.setStyleSheet("color: #555;")
        self.analysis_note.setVisible(False)
        column.addWidget(self.analysis_note)

    def document(self) -> dict[str, Any]:
        values = {a: {s: _read(b) for s, b in by.items()} for a, by in self.effects.items()}
        doc: dict[str, Any] = {
            "scale": "binary" if self.binary else "continuous",
            "baseline": {s: _read(self.baseline[s]) for s in STATES},
            "relative_risk" if self.binary else "effects": values,
        }
        if self.binary:
            doc["participant_sd"] = _read(self.participant_sd)
        else:
            doc["sd"] = _read(self.sd)
            doc["icc"] = _read(self.icc)
        if self.own_analysis is not None:
            doc["analysis"] = self.own_analysis.model_dump(exclude_unset=True)
        return doc

    def set_analysis(self, analysis: AnalysisPlan | None) -> None:
        self.own_analysis = analysis
        if analysis is not None:
            self.analysis_note.setText(
                f"own analysis options from the file: {_options_text(analysis)}"
            )
        self.analysis_note.setVisible(analysis is not None)

    def fill(self, model: OutcomeModel) -> None:
        """Show ``model``; ValueError (``what || fix``) when its effects cannot be shown."""
        if self.binary:
            shown = _relative_risks(model, self.arms)
        else:
            shown = {
                a: {s: model.effects.get(a, {}).get(s, 0.0) for s in STATES} for a in self.arms
            }
        for s in STATES:
            _keep(self.baseline[s], model.baseline[s])
            for arm in self.arms:
                _keep(self.effects[arm][s], shown[arm][s])
        if self.binary:
            _keep(self.participant_sd, model.between_sd())
        else:
            _keep(self.sd, model.sd or 1.0)
            if model.icc is not None:
                _keep(self.icc, model.icc)
            else:
                b, sd = model.between_sd(), model.sd or 1.0
                _keep(self.icc, b * b / (b * b + sd * sd))
        self.set_analysis(model.analysis)


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
        self.outcome_boxes: dict[str, _OutcomeBox] = {}
        layout = QHBoxLayout(self)

        left = QWidget()
        form_box = QVBoxLayout(left)
        files = QGroupBox("Study")
        files_form = QFormLayout(files)
        path_row = QHBoxLayout()
        self.protocol_edit = QLineEdit()
        self.protocol_edit.setPlaceholderText("protocol file (.toml)")
        browse = QPushButton("Open…")
        browse.clicked.connect(self._browse_protocol)
        path_row.addWidget(self.protocol_edit, 1)
        path_row.addWidget(browse)
        files_form.addRow("Protocol", path_row)
        self.load_effects_button = QPushButton("Load effects file…")
        self.load_effects_button.clicked.connect(self._browse_effects)
        files_form.addRow("Effects", self.load_effects_button)
        form_box.addWidget(files)

        model = QGroupBox("State, availability, receipt")
        mform = QFormLayout(model)
        self.aroused_share = spin_box(0.01, 0.99, 0.3, 0.05)
        self.persistence = spin_box(0.0, 0.99, 0.5, 0.05)
        self.accuracy = spin_box(0.51, 1.0, 1.0, 0.01)
        self.avail_calm = spin_box(0.01, 1.0, 0.9, 0.05)
        self.avail_aroused = spin_box(0.01, 1.0, 0.9, 0.05)
        self.receipt = spin_box(0.01, 1.0, 1.0, 0.05)
        self.moderated = QCheckBox("moderated by affect_state")
        self.moderated.setChecked(True)
        mform.addRow("Share aroused", self.aroused_share)
        mform.addRow("State persistence", self.persistence)
        mform.addRow("Classifier accuracy", self.accuracy)
        mform.addRow("Available when calm", self.avail_calm)
        mform.addRow("Available when aroused", self.avail_aroused)
        mform.addRow("Framings received", self.receipt)
        mform.addRow("Analysis", self.moderated)
        form_box.addWidget(model)

        self.outcomes_host = QWidget()
        self.outcomes_layout = QVBoxLayout(self.outcomes_host)
        self.outcomes_layout.setContentsMargins(0, 0, 0, 0)
        form_box.addWidget(self.outcomes_host)

        run = QGroupBox("Simulation")
        rform = QFormLayout(run)
        grid_row = QHBoxLayout()
        self.n_from = _int_spin(4, 100000, 20, 10)
        self.n_to = _int_spin(4, 100000, 80, 10)
        self.n_step = _int_spin(1, 10000, 10, 5)
        for label, box in (("from", self.n_from), ("to", self.n_to), ("step", self.n_step)):
            grid_row.addWidget(QLabel(label))
            grid_row.addWidget(box)
        rform.addRow("Participants", grid_row)
        self.trials = _int_spin(10, 1000000, 1000, 100)
        self.type_one = QCheckBox("also with every effect 0 (type I error)")
        self.type_one.setChecked(True)
        self.alpha = spin_box(0.001, 0.5, 0.05, 0.01, 3)
        self.target = spin_box(0.05, 0.999, 0.8, 0.05, 3)
        self.seed = _int_spin(0, 2**31 - 1, 0)
        self.workers = _int_spin(1, 64, 1)
        self.workers.setToolTip("local processes (each starts in about a second)")
        rform.addRow("Trials per N", self.trials)
        rform.addRow("", self.type_one)
        rform.addRow("Significance level", self.alpha)
        rform.addRow("Target power", self.target)
        rform.addRow("Seed", self.seed)
        rform.addRow("Processes", self.workers)
        form_box.addWidget(run)
        form_box.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(440)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        layout.addWidget(scroll)

        right = QVBoxLayout()
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Simulate")
        self.run_button.setObjectName("simulate_run")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
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
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "participants")
        self.plot.setLabel("left", "power")
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMinimumSize(420, 260)
        self.plot.setMouseEnabled(x=False, y=False)
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
        layout.addLayout(right, 1)

        self.protocol_edit.editingFinished.connect(self._protocol_changed)
        if protocol_path is not None:
            self.set_protocol(protocol_path)

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
            box = _OutcomeBox(o.name, o.measure == "any", arms)
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
