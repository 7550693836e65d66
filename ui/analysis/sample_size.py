"""The sample-size calculator (Liao et al., 2016) as a dialog.

All arithmetic is :mod:`labmrt.analysis.power`; this dialog only collects the
design, shows the answer and the power curve, and turns the calculator's
``LabmrtError`` problems into a readable message next to the inputs. One
calculation takes milliseconds, so it runs on the GUI thread as the inputs
change. The second tab (:mod:`ui.analysis.power_simulation`) simulates the protocol
itself, off the GUI thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from labmrt.analysis import power as mrtpower
from labmrt.errors import LabmrtError
from ui.analysis.power_simulation import SimulationTab, power_plot
from ui.widgets import int_spin_box, spin_box


class SampleSizeDialog(QDialog):
    """Study length, randomization, availability and effect in; participants needed out."""

    def __init__(
        self,
        parent=None,
        *,
        sessions: int = 1,
        per_session: int = 30,
        prob: float = 0.5,
        protocol_path=None,
    ):
        super().__init__(parent)
        self.setObjectName("sample_size_dialog")
        self.setWindowTitle("Sample size for a micro-randomized trial")
        self.result: mrtpower.PowerResult | None = None
        closed_form = QWidget()
        layout = QHBoxLayout(closed_form)
        layout.addWidget(self._design_inputs(sessions, per_session, prob))
        layout.addLayout(self._answer_column(), 1)

        outer = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.addTab(closed_form, "Closed form (Liao et al. 2016)")
        self.simulation = SimulationTab(protocol_path=protocol_path)
        self.tabs.addTab(self.simulation, "Simulate the protocol")
        outer.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

        for box in (self.days, self.per_day):
            box.valueChanged.connect(self.recalculate)
        for box in (
            self.prob,
            self.avail_mean,
            self.avail_initial,
            self.effect_mean,
            self.effect_initial,
            self.effect_max_day,
            self.alpha,
            self.target,
        ):
            box.valueChanged.connect(self.recalculate)
        self.avail_shape.currentTextChanged.connect(self.recalculate)
        self.effect_shape.currentTextChanged.connect(self.recalculate)
        self.recalculate()

    def _design_inputs(self, sessions: int, per_session: int, prob: float) -> QWidget:
        """The design the closed form takes: study length, availability, effect, test."""
        inputs = QWidget()
        form_box = QVBoxLayout(inputs)
        study = QGroupBox("Study")
        form = QFormLayout(study)
        self.days = int_spin_box(1, 1000, sessions)
        self.days.setToolTip("Sessions per participant (a session plays the role of a day)")
        self.per_day = int_spin_box(1, 10000, per_session)
        self.prob = spin_box(0.01, 0.99, prob, 0.05)
        form.addRow("Sessions (days)", self.days)
        form.addRow("Decision points per session", self.per_day)
        form.addRow("Randomization probability", self.prob)
        form_box.addWidget(study)

        avail = QGroupBox("Expected availability")
        form = QFormLayout(avail)
        self.avail_shape = QComboBox()
        self.avail_shape.addItems(["constant", "linear"])
        self.avail_mean = spin_box(0.01, 1.0, 0.9, 0.05)
        self.avail_initial = spin_box(0.01, 1.0, 0.95, 0.05)
        form.addRow("Shape", self.avail_shape)
        form.addRow("Average", self.avail_mean)
        form.addRow("First session", self.avail_initial)
        form_box.addWidget(avail)

        effect = QGroupBox("Standardized proximal effect")
        form = QFormLayout(effect)
        self.effect_shape = QComboBox()
        self.effect_shape.addItems(list(mrtpower.SHAPES))
        self.effect_mean = spin_box(-5, 5, 0.1, 0.01, 3)
        self.effect_initial = spin_box(-5, 5, 0.0, 0.01, 3)
        self.effect_max_day = spin_box(1, 1000, 1, 1, 1)
        form.addRow("Shape", self.effect_shape)
        form.addRow("Average", self.effect_mean)
        form.addRow("First session", self.effect_initial)
        form.addRow("Session of the maximum", self.effect_max_day)
        form_box.addWidget(effect)

        test = QGroupBox("Test")
        form = QFormLayout(test)
        self.alpha = spin_box(0.001, 0.5, 0.05, 0.01, 3)
        self.target = spin_box(0.05, 0.999, 0.8, 0.05, 3)
        form.addRow("Significance level", self.alpha)
        form.addRow("Target power", self.target)
        form_box.addWidget(test)
        form_box.addStretch(1)
        return inputs

    def _answer_column(self) -> QVBoxLayout:
        """The participants needed, how the test came out, and power against N."""
        right = QVBoxLayout()
        self.answer = QLabel("")
        self.answer.setObjectName("sample_size_answer")
        self.answer.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.answer.setWordWrap(True)
        self.detail = QLabel("")
        self.detail.setObjectName("sample_size_detail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.curve_plot = power_plot(360, 260)
        self.curve = self.curve_plot.plot(pen=pg.mkPen("#1565c0", width=2))
        self.marker = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#c62828"))
        self.curve_plot.addItem(self.marker)
        self.target_line = self.curve_plot.addLine(y=0.8, pen=pg.mkPen("#999", style=Qt.DashLine))
        right.addWidget(self.answer)
        right.addWidget(self.detail)
        right.addWidget(self.curve_plot, 1)
        return right

    def design(self) -> mrtpower.StudyDesign:
        avail_shape = self.avail_shape.currentText()
        effect_shape = self.effect_shape.currentText()
        self.avail_initial.setEnabled(avail_shape != "constant")
        self.effect_initial.setEnabled(effect_shape != "constant")
        self.effect_max_day.setEnabled(effect_shape == "quadratic")
        return mrtpower.StudyDesign(
            days=self.days.value(),
            per_day=self.per_day.value(),
            prob=self.prob.value(),
            availability=mrtpower.Trajectory(
                avail_shape,
                self.avail_mean.value(),
                self.avail_initial.value() if avail_shape != "constant" else None,
            ),
            effect=mrtpower.Trajectory(
                effect_shape,
                self.effect_mean.value(),
                self.effect_initial.value() if effect_shape != "constant" else None,
                self.effect_max_day.value() if effect_shape == "quadratic" else None,
            ),
        )

    def recalculate(self) -> mrtpower.PowerResult | None:
        try:
            design = self.design()
            result = mrtpower.sample_size(design, self.target.value(), self.alpha.value())
            n_min = mrtpower.smallest_n(design)
            ns = np.arange(n_min, max(n_min + 10, int(result.n * 2)) + 1)
            powers = mrtpower.power_curve(design, ns, self.alpha.value())
        except LabmrtError as err:
            self.result = None
            self.answer.setText("Cannot calculate")
            self.detail.setText(err.message)
            self.answer.setStyleSheet("font-size: 18px; font-weight: 600; color: #c62828;")
            self.curve.setData([], [])
            self.marker.setData([], [])
            return None
        self.result = result
        self.answer.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.answer.setText(
            f"{result.n} participants give power {result.power:.3f} "
            f"(target {self.target.value():g}, α = {self.alpha.value():g})"
        )
        detail = (
            f"{result.days * result.per_day} decision points each; F({result.df1}, {result.df2}) "
            f"test, critical value {result.critical_value:.3f}, non-centrality "
            f"{result.noncentrality:.2f}."
        )
        if result.warnings:
            detail += "\n" + "\n".join(result.warnings)
        self.detail.setText(detail)
        self.curve.setData(ns, powers)
        self.marker.setData([result.n], [result.power])
        self.target_line.setValue(self.target.value())
        return result
