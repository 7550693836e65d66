"""The sample-size dialog's "simulate the protocol" tab: form, run off the GUI thread, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from labmrt.powersim.effects import as_differences, load_effects
from labmrt.powersim.run import simulate_power
from labmrt.protocol import load_protocol
from ui.analysis import SampleSizeDialog

ROOT = Path(__file__).resolve().parents[3]
FRAMING = ROOT / "protocols" / "framing_affect.toml"
EFFECTS = ROOT / "protocols" / "framing_affect_effects.toml"


def test_form_from_the_effects_file_runs_the_same_simulation_off_the_gui_thread(qtbot, screenshot):
    dialog = SampleSizeDialog(protocol_path=FRAMING)
    qtbot.addWidget(dialog)
    tab = dialog.simulation
    dialog.tabs.setCurrentWidget(tab)
    assert set(tab.outcome_boxes) == {"help_hint_seconds", "calculator_used"}
    assert tab.load_effects_file(EFFECTS) is not None
    protocol = load_protocol(FRAMING)
    expected_effects = load_effects(EFFECTS, protocol)
    # the form holds exactly the file's model as the file states it (binary effects as
    # relative risks; the protocol is the dialog's, not a file name) ...
    stated = load_effects(EFFECTS, protocol, stated=True).model_copy(update={"protocol": None})
    form = tab.effects()
    assert form == stated
    calculator = form.outcomes["calculator_used"]
    assert calculator.relative_risk["loss"] == {"calm": 1.125, "aroused": 1.34}
    assert not calculator.effects
    assert tab.outcome_boxes["calculator_used"].effects["gain"]["aroused"].value() == 1.14
    # ... and the same risk differences the command line simulates
    assert as_differences(form) == expected_effects.model_copy(update={"protocol": None})
    assert as_differences(form).outcomes["calculator_used"].effects["loss"]["calm"] == 0.05
    tab.n_from.setValue(20)
    tab.n_to.setValue(60)
    tab.n_step.setValue(20)
    tab.trials.setValue(100)
    tab.seed.setValue(5)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    with qtbot.waitSignal(tab.finished, timeout=120_000) as blocker:
        job = tab.start()
        assert job is not None and not tab.run_button.isEnabled()
    timer.stop()
    result = blocker.args[0]
    assert len(ticks) > 3  # the GUI thread kept running meanwhile
    expected = simulate_power(protocol, expected_effects, [20, 40, 60], 100, seed=5)
    assert [t.power for t in result.terms] == [t.power for t in expected.terms]
    assert [t.power for t in result.type_one] == [t.power for t in expected.type_one]
    qtbot.waitUntil(lambda: tab.run_button.isEnabled())
    assert len(tab.curves) == 8 and tab.table.rowCount() == 8
    x, y = tab.curves[3].getData()
    assert list(x) == [20, 40, 60] and list(y) == result.terms[3].power
    assert tab.progress.value() == tab.progress.maximum() == 200
    labels = [tab.table.item(r, 0).text() for r in range(8)]
    assert "help_hint_seconds: loss vs neutral: affect_statecalm" in labels
    dialog.resize(1250, 820)
    dialog.show()
    screenshot(dialog, "sample_size_simulation")


def test_cancel_keeps_the_trials_done_and_bad_input_is_shown(qtbot, tmp_path):
    dialog = SampleSizeDialog(protocol_path=FRAMING)
    qtbot.addWidget(dialog)
    tab = dialog.simulation
    tab.load_effects_file(EFFECTS)
    tab.n_from.setValue(20)
    tab.n_to.setValue(20)
    tab.trials.setValue(100000)
    with qtbot.waitSignal(tab.finished, timeout=120_000) as blocker:
        tab.start()
        qtbot.waitUntil(lambda: tab.progress.value() > 0, timeout=60_000)
        tab.cancel()
    result = blocker.args[0]
    assert result.cancelled and 0 < result.trials_done < 100000
    assert "cancelled" in tab.status.text()
    qtbot.waitUntil(lambda: tab.run_button.isEnabled())
    # too few participants for the analysis: the problem, not a crash
    tab.n_from.setValue(4)
    tab.n_to.setValue(4)
    tab.start()
    qtbot.waitUntil(lambda: "degrees of freedom" in tab.status.text(), timeout=10_000)
    # an effects file naming an arm the protocol does not have
    bad = tmp_path / "effects.toml"
    bad.write_text(EFFECTS.read_text().replace("effects.gain", "effects.fear", 1))
    assert tab.load_effects_file(bad) is None
    assert "effects.fear: is not an arm of the protocol" in tab.status.text()


def _without_protocol(text: str) -> str:
    """The example file's text for a copy elsewhere (its protocol path is relative to it)."""
    return text.replace('protocol = "framing_affect.toml"', "", 1)


def test_risk_differences_load_as_relative_risks_and_own_analysis_options_are_kept(
    qtbot, tmp_path, screenshot
):
    dialog = SampleSizeDialog(protocol_path=FRAMING)
    qtbot.addWidget(dialog)
    tab = dialog.simulation
    protocol = load_protocol(FRAMING)
    text = _without_protocol(EFFECTS.read_text())
    text = text.replace(
        "relative_risk.gain = { calm = 1.075, aroused = 1.14 }",
        "effects.gain = { calm = 0.03, aroused = 0.049 }",
    ).replace(
        "relative_risk.loss = { calm = 1.125, aroused = 1.34 }",
        "effects.loss = { calm = 0.05, aroused = 0.12 }",
    )
    text += (
        "\n[outcomes.calculator_used.analysis]\n"
        'contrasts = ["loss-vs-baseline"]\nmoderators = []\n'
        'controls = ["task_index", "difficulty"]\n'
    )
    diffs = tmp_path / "differences.toml"
    diffs.write_text(text)
    assert tab.load_effects_file(diffs) is not None
    box = tab.outcome_boxes["calculator_used"]
    rr = {a: {s: b.value() for s, b in by.items()} for a, by in box.effects.items()}
    # RR = (baseline + difference) / baseline, shown to 3 decimals: 0.47 / 0.35 = 1.342857
    assert rr == {
        "gain": {"calm": 1.075, "aroused": 1.14},
        "loss": {"calm": 1.125, "aroused": 1.343},
    }
    form = tab.effects()
    assert form.outcomes["calculator_used"].relative_risk["loss"]["aroused"] == pytest.approx(
        0.47 / 0.35, abs=1e-15
    )
    # read back, it is the file's model: the same differences and the outcome's own analysis
    assert as_differences(form) == load_effects(diffs, protocol)
    own = form.outcomes["calculator_used"].analysis
    assert own is not None and own.moderator == "" and own.controls == ["task_index", "difficulty"]
    assert form.analysis_for("calculator_used").contrasts == ["loss-vs-baseline"]
    assert form.analysis_for("calculator_used").small_sample == "auto"  # from [analysis]
    assert form.analysis_for("help_hint_seconds").moderator == "affect_state"
    assert box.analysis_note.isVisibleTo(tab)
    assert "moderators = []" in box.analysis_note.text()
    assert box.analysis_note.text().startswith("own analysis options from the file:")
    assert not tab.outcome_boxes["help_hint_seconds"].analysis_note.isVisibleTo(tab)
    dialog.tabs.setCurrentWidget(tab)
    dialog.resize(1250, 820)
    dialog.show()
    screenshot(dialog, "sample_size_simulation_own_analysis")
    # an edited box gives the edited value, not the file's
    box.effects["loss"]["aroused"].setValue(1.5)
    assert tab.effects().outcomes["calculator_used"].relative_risk["loss"]["aroused"] == 1.5
    # a file without the outcome's own options clears them
    assert tab.load_effects_file(EFFECTS) is not None
    assert tab.effects().outcomes["calculator_used"].analysis is None
    assert not box.analysis_note.isVisibleTo(tab)
    # a risk difference from a baseline of 0 has no relative risk: said, not shown wrong
    zero = tmp_path / "zero.toml"
    zero.write_text(text.replace("baseline = { calm = 0.40, aroused = 0.35 }",
                                 "baseline = { calm = 0.0, aroused = 0.35 }"))  # fmt: skip
    assert tab.load_effects_file(zero) is None
    assert (
        "outcomes.calculator_used: effects.gain.calm is a risk difference from a baseline of 0"
        in (tab.status.text())
    )


def test_a_relative_risk_of_zero_or_less_is_reported_and_not_simulated(qtbot, tmp_path):
    dialog = SampleSizeDialog(protocol_path=FRAMING)
    qtbot.addWidget(dialog)
    tab = dialog.simulation
    assert tab.load_effects_file(EFFECTS) is not None
    box = tab.outcome_boxes["calculator_used"]
    assert [box.layout().itemAt(0).layout().itemAtPosition(r, 0).widget().text()
            for r in (2, 3)] == ["relative risk of gain", "relative risk of loss"]  # fmt: skip
    # a negative relative risk cannot be typed; 0 can, and Simulate says why it is refused
    box.effects["loss"]["calm"].setValue(-0.5)
    assert box.effects["loss"]["calm"].value() == 0.0
    assert tab.start() is None and tab.job is None
    assert tab.run_button.isEnabled()
    message = tab.status.text()
    assert "form: outcomes.calculator_used.relative_risk.loss.calm: is 0" in message
    assert "a relative risk is greater than 0" in message
    # one that makes a probability above 1 when treated: 0.35 x 3 = 1.05
    box.effects["loss"]["calm"].setValue(1.125)
    box.effects["gain"]["aroused"].setValue(3.0)
    assert tab.start() is None
    assert (
        "relative_risk.gain.aroused: gives the probability 1.05 when aroused" in tab.status.text()
    )
    # the same from a file
    bad = tmp_path / "effects.toml"
    bad.write_text(
        _without_protocol(EFFECTS.read_text()).replace(
            "relative_risk.loss = { calm = 1.125,", "relative_risk.loss = { calm = -0.2,"
        )
    )
    assert tab.load_effects_file(bad) is None
    assert "relative_risk.loss.calm: is -0.2" in tab.status.text()
