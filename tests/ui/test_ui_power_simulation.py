"""The sample-size dialog's "simulate the protocol" tab: form, run off the GUI thread, cancel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer

from labmrt.powersim.effects import load_effects
from labmrt.powersim.run import simulate_power
from labmrt.protocol import load_protocol
from ui.power_dialog import SampleSizeDialog

ROOT = Path(__file__).resolve().parents[2]
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
    # the form holds exactly the file's model (the protocol is the dialog's, not a file name)
    assert tab.effects() == expected_effects.model_copy(update={"protocol": None})
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
