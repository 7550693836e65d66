"""The analysis view: lists from the codebook, a WCLS fit off the GUI thread, the check, saving."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from ui.analysis import AnalysisWindow

TRUE_EFFECT = 0.5  # gain vs neutral, on the outcome scale
MODERATION = 0.4  # extra effect when aroused


def write_export(folder, n=30, t=30, seed=3):
    """A decision-point table with a known effect, and its codebook (as labmrt export writes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for k in range(t):
            state = rng.choice(["calm", "aroused"])
            p = (
                {"neutral": 0.5, "gain": 0.25, "loss": 0.25}
                if state == "aroused"
                else {"neutral": 1 / 3, "gain": 1 / 3, "loss": 1 / 3}
            )
            available = rng.random() < 0.9
            arm = rng.choice(list(p), p=list(p.values())) if available else None
            effect = (TRUE_EFFECT + MODERATION * (state == "aroused")) * (arm == "gain")
            y = 1.0 + 0.3 * (state == "aroused") + effect + rng.normal(0, 1)
            rows.append(
                {
                    "participant": f"P{i:02d}",
                    "session": i + 1,
                    "decision_point": k,
                    "task_index": k,
                    "task_id": f"t{k}",
                    "t": 100.0 + 30 * k,
                    "available": int(available),
                    "unavailable_reason": "" if available else "break",
                    "arm": arm,
                    **{f"prob_{a}": v for a, v in p.items()},
                    "received": 1,
                    "affect_state": state,
                    "p_aroused": 0.8 if state == "aroused" else 0.2,
                    "hr": 70 + 15 * (state == "aroused") + rng.normal(0, 3),
                    "help_seconds": y,
                    "calc_used": int(rng.random() < 0.4),
                    "protocol_hash": "abc",
                }
            )
    frame = pd.DataFrame(rows)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "decision_points.csv", index=False)
    role = {
        "hr": "moderator",
        "p_aroused": "",
        "task_index": "",
        "help_seconds": "outcome",
        "calc_used": "outcome",
    }
    codebook = {
        "arms": ["neutral", "gain", "loss"],
        "baseline_arm": "neutral",
        "outcomes": ["help_seconds", "calc_used"],
        "files": {"decision_points": "decision_points.csv"},
        "tables": [
            {
                "table": "decision_points",
                "columns": [
                    {
                        "name": c,
                        "type": "",
                        "unit": "",
                        "meaning": f"column {c}",
                        "source": role.get(c, ""),
                    }
                    for c in frame.columns
                ],
            }
        ],
    }
    (folder / "codebook.json").write_text(json.dumps(codebook))
    return frame


@pytest.fixture
def window(qtbot, tmp_path):
    write_export(tmp_path / "export")
    win = AnalysisWindow()
    qtbot.addWidget(win)
    win.show()
    job = win.open_folder(tmp_path / "export")
    qtbot.waitUntil(lambda: win.data is not None, timeout=10000)
    qtbot.waitUntil(lambda: not job.running, timeout=10000)
    return win


def test_lists_come_from_the_codebook(window):
    outcomes = [window.outcome_combo.itemText(i) for i in range(window.outcome_combo.count())]
    assert outcomes == ["help_seconds", "calc_used"]
    contrasts = [window.contrast_combo.itemText(i) for i in range(window.contrast_combo.count())]
    assert contrasts[:2] == ["gain vs neutral", "loss vs neutral"]
    moderators = [window.moderators.item(i).text() for i in range(window.moderators.count())]
    assert moderators[:2] == ["affect_state", "p_aroused"] and "hr" in moderators
    assert "30 participants" in window.data_label.text()


def check(widget, name):
    for i in range(widget.count()):
        if widget.item(i).text() == name:
            widget.item(i).setCheckState(Qt.Checked)
            return
    raise AssertionError(name)


def test_wcls_recovers_the_simulated_effect_and_saves_everything(
    qtbot, window, tmp_path, screenshot
):
    check(window.moderators, "affect_state")
    qtbot.mouseClick(window.run_button, Qt.LeftButton)
    qtbot.waitUntil(
        lambda: window.outcome is not None or "not run" in window.summary.text(), timeout=20000
    )
    assert window.outcome is not None, [
        b.informativeText() for b in window.findChildren(QMessageBox)
    ]
    curve = window.outcome.curve.set_index("affect_state")
    # 30 participants x 30 points, unit noise, about 1/3 of the points in each contrast cell:
    # the SE of each state's effect is about 0.11-0.15, so 4 SE = 0.6 is a safe band.
    assert curve.loc["calm", "estimate"] == pytest.approx(TRUE_EFFECT, abs=0.6)
    assert curve.loc["aroused", "estimate"] == pytest.approx(TRUE_EFFECT + MODERATION, abs=0.6)
    assert (curve["ci_lower"] < curve["estimate"]).all()
    assert window.table.rowCount() == 2
    assert "Causal excursion effects (WCLS" in window.details.toPlainText()
    window.draws.setValue(400)
    check_job = window.run_check()
    qtbot.waitUntil(lambda: window.check_result is not None, timeout=60000)
    assert window.check_result.draws_done == 400
    assert "randomization p" in window.check_label.text()
    qtbot.waitUntil(lambda: not check_job.running, timeout=10000)
    assert window.summary.text().startswith("WCLS (additive): help_seconds, gain vs neutral")
    screenshot(window, "analysis_view")
    written = window.save_results(tmp_path / "results")
    assert set(written) == {"csv", "json", "png", "svg", "html"}
    saved = pd.read_csv(written["csv"])
    assert list(saved["term"]) == list(window.outcome.table["term"])
    assert saved["estimate"].tolist() == pytest.approx(window.outcome.table["estimate"].tolist())
    payload = json.loads(written["json"].read_text())
    assert payload["choice"]["contrast"] == "gain vs neutral"
    assert payload["result"]["method"] == "wcls"
    assert "randomization_check" in payload
    assert "<h1>Causal excursion effect: gain vs neutral</h1>" in written["html"].read_text()
    assert written["png"].stat().st_size > 1000


def test_emee_on_a_binary_outcome_with_a_numeric_moderator(qtbot, window):
    window.method.setCurrentIndex(window.method.findData("emee"))
    window.outcome_combo.setCurrentIndex(window.outcome_combo.findData("calc_used"))
    check(window.moderators, "hr")
    window.run()
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=20000)
    assert window.outcome.result.method == "emee"
    assert list(window.outcome.table["term"]) == ["(Intercept)", "hr"]
    # calc_used was drawn independently of the arm: no effect, the CI must cover 0 at mean hr
    curve = window.outcome.curve
    assert len(curve) > 5 and "hr" in curve.columns
    assert (curve["ci_lower"] <= curve["ci_upper"]).all()


def test_randomization_check_can_be_cancelled(qtbot, window):
    window.draws.setValue(100000)
    job = window.run_check()
    qtbot.waitUntil(lambda: window.check_progress.value() > 0, timeout=20000)
    qtbot.mouseClick(window.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not job.running, timeout=20000)
    assert window.check_result.cancelled
    assert window.check_result.draws_done < 100000
    assert window.check_label.text().startswith("cancelled after")


def test_bad_folder_is_an_error_dialog_not_a_traceback(qtbot, tmp_path):
    win = AnalysisWindow()
    qtbot.addWidget(win)
    job = win.open_folder(tmp_path)
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert win.data is None
    assert win.data_label.text() == "No data loaded."
    boxes = win.findChildren(QMessageBox)
    assert boxes and "neither an export" in boxes[0].informativeText()
