"""The sample-size dialog builds the design from its inputs and shows the calculator's answer."""

from __future__ import annotations

from labmrt.analysis import power as mrtpower
from ui.analysis import SampleSizeDialog


def test_dialog_answer_matches_the_calculator_for_the_entered_design(qtbot, screenshot):
    dialog = SampleSizeDialog(sessions=10, per_session=5, prob=0.4)
    qtbot.addWidget(dialog)
    dialog.effect_shape.setCurrentText("linear")
    dialog.effect_mean.setValue(0.1)
    dialog.effect_initial.setValue(0.05)
    dialog.avail_mean.setValue(0.8)
    design = mrtpower.StudyDesign(
        days=10,
        per_day=5,
        prob=0.4,
        availability=mrtpower.Trajectory("constant", 0.8),
        effect=mrtpower.Trajectory("linear", 0.1, 0.05),
    )
    expected = mrtpower.sample_size(design, 0.8, 0.05)
    assert dialog.result is not None
    assert dialog.result.n == expected.n
    assert dialog.answer.text().startswith(f"{expected.n} participants")
    x, y = dialog.curve.getData()
    assert x[0] == mrtpower.smallest_n(design) and y[-1] > 0.8
    dialog.resize(900, 560)
    dialog.show()
    screenshot(dialog, "analysis_sample_size")


def test_impossible_inputs_show_the_problem_instead_of_failing(qtbot):
    dialog = SampleSizeDialog()
    qtbot.addWidget(dialog)
    dialog.effect_mean.setValue(0.0)
    assert dialog.result is None
    assert dialog.answer.text() == "Cannot calculate"
    assert dialog.detail.text()
