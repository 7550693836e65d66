"""One proximal outcome's expected effects, per arm and state, as the simulation tab's form.

A box shows what an effects file states (:mod:`labmrt.powersim.effects`) and
writes it back as the same document: a binary outcome's effects as relative
risks, whatever scale the file used, a continuous one's as differences.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QGroupBox, QLabel, QVBoxLayout

from labmrt.powersim.effects import STATES, AnalysisPlan, OutcomeModel
from ui.widgets import spin_box


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


class OutcomeBox(QGroupBox):
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
