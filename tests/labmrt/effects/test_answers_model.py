"""The answers model of an effects file (``[correct]``): its checks, its deprecated key, its math.

Exact math: the recorded mean of a duration is ``E max(0, N(m, s^2))``
(checked by numerical integration), of a log1p count the Poisson mean of
``log1p(k)`` (by summing the pmf); the per-task effects are the model's
own terms. Bad files get ``FILE: key: what (fix)``, exit 2, from both
``labmrt simulate`` and ``labmrt validate``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from labmrt.cli import main
from labmrt.effects.answers import arm_effects, probability, recorded_mean
from labmrt.effects.schema import AnswerModel
from labmrt.errors import DeprecatedKey, LabmrtError
from labmrt.protocol import load_protocol
from labmrt.simulate import load_effect_model

ROOT = Path(__file__).resolve().parents[3]
FRAMING = ROOT / "protocols" / "framing_affect.toml"
OUTCOMES = f"""
protocol = "{FRAMING}"
participant_sd = 0.0

[outcomes.help_hint_seconds]
baseline = {{ calm = 1.8, aroused = 2.2 }}
sd = 0.9
effects.loss = {{ calm = 0.1, aroused = 0.4 }}

[outcomes.calculator_used]
scale = "binary"
baseline = 0.4
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "effects.toml"
    path.write_text(OUTCOMES + text, "utf-8")
    return path


def test_the_recorded_means_are_exact():
    for m, s in ((1.5, 0.8), (0.2, 1.0), (-0.5, 0.6)):
        want = quad(lambda x, m=m, s=s: x * stats.norm.pdf(x, m, s), 0, np.inf)[0]
        assert recorded_mean("duration", "log1p", m, s, 0.0) == pytest.approx(want, rel=1e-10)
    # the participant intercept widens the spread: sd^2 + participant_sd^2
    assert recorded_mean("duration", "none", 1.0, 0.6, 0.8) == pytest.approx(
        recorded_mean("duration", "none", 1.0, 1.0, 0.0), rel=1e-15
    )
    k = np.arange(200)
    want = float(np.sum(stats.poisson.pmf(k, 3.5) * np.log1p(k)))
    assert recorded_mean("count", "log1p", 3.5, 0, 0) == pytest.approx(want, rel=1e-12)
    assert recorded_mean("count", "none", 3.5, 0, 0) == 3.5
    assert recorded_mean("any", "none", 0.3, 0, 0) == 0.3


def test_per_task_effects_are_the_models_terms():
    answers = AnswerModel(baseline=0.6, effects={"loss": 0.05}, mediator="m", slope=0.1)
    out = arm_effects(answers, "any", "none", {"calm": 0.3, "aroused": 0.3},
                      {"loss": {"calm": 0.2, "aroused": 0.1}}, 0.0, 0.0, 0.9, ["loss"])  # fmt: skip
    calm = out["loss"]["calm"]
    assert calm["direct"] == pytest.approx(0.9 * 0.05, abs=1e-15)
    assert calm["mediator_shift"] == pytest.approx(0.9 * 0.2, abs=1e-15)
    assert calm["indirect"] == pytest.approx(0.1 * 0.9 * 0.2, abs=1e-15)
    assert out["loss"]["aroused"]["total"] == pytest.approx(0.9 * 0.05 + 0.1 * 0.9 * 0.1)
    # one task: baseline + the direct effect if received + slope x (mediator - its baseline)
    base = {"calm": 0.3, "aroused": 0.3}
    assert probability(answers, "loss", "calm", True, 1.0, base) == pytest.approx(0.72)
    assert probability(answers, "loss", "calm", False, 0.3, base) == pytest.approx(0.6)
    assert probability(answers, "neutral", "aroused", True, None, None) == pytest.approx(0.6)


def test_a_simulation_reads_the_answers_and_the_deprecated_key(tmp_path):
    framing = load_protocol(FRAMING)
    path = _file(tmp_path, '\n[correct]\nbaseline = 0.6\nmediator = "help_hint_seconds"\n'
                           "slope = 0.05\neffects.loss = 0.02\n")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, _ = load_effect_model(path, framing)
    assert model.correct.baseline == {"calm": 0.6, "aroused": 0.6}
    assert model.correct.effects == {"loss": {"calm": 0.02, "aroused": 0.02}}
    truth = model.distal_truth("neutral", 0.9)
    assert truth["mediation_identified"] is False  # receipt < 1 with a direct effect
    assert "receipt = 0.9" in truth["not_identified_because"][0]
    old = tmp_path / "old.toml"
    old.write_text("correct_prob = 0.55\n" + OUTCOMES, "utf-8")
    with pytest.warns(DeprecatedKey) as seen:
        model, _ = load_effect_model(old, framing)
    assert model.correct.baseline == {"calm": 0.55, "aroused": 0.55}
    assert str(seen[0].message) == (
        f"{old}: correct_prob: is deprecated (renamed correct: the answers' model, with the "
        "framing's direct and mediated effects) (write correct = { baseline = 0.55 })"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ('mediator = "help"', "correct.mediator: 'help' is not an outcome of the protocol (use "
         "one of: help_hint_seconds, calculator_used)"),
        ("slope = 0.1", "correct.slope: is given without a mediator (name the proximal outcome"),
        ("effects.neutral = 0.1", "correct.effects.neutral: is the baseline arm: effects are "
         "stated against it"),
        ("effects.lose = 0.1", "correct.effects.lose: is not an arm of the protocol"),
        ("baseline = 1.2", "correct.baseline: calm is 1.2, not a probability (use 0 to 1)"),
        ('mediator = "help_hint_seconds"\nslope = 0.2', "correct.slope: P(correct) reaches "),
        ("effects.loss = 0.5", "correct.effects.loss.calm: P(correct) reaches 1.2 when calm "
         "under loss"),
        ("colour = 1", "correct.colour: "),
    ],
)  # fmt: skip
def test_a_bad_answers_model_is_named(tmp_path, capsys, text, message):
    path = _file(tmp_path, f"\n[correct]\n{text}\n")
    for args in (["validate", str(path)],
                 ["simulate", str(FRAMING), "--effects", str(path), "--participants", "1",
                  "--out", str(tmp_path / "s")]):  # fmt: skip
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize(
    "baseline, ok", [(0.595, True), (0.605, False), (0.225, True), (0.215, False)]
)
def test_the_range_check_is_the_mediators_4_sd_band(tmp_path, baseline, ok):
    # help (sd 0.9, no intercept) lies within [0, 2.2 + 0.4 + 4 x 0.9] when aroused: slope
    # 0.1 moves P(correct) from -0.22 to +0.40 around the baseline (mediator baseline 2.2)
    path = _file(tmp_path, f'\n[correct]\nbaseline = {baseline}\nmediator = "help_hint_seconds"\n'
                           "slope = 0.1\n")  # fmt: skip
    framing = load_protocol(FRAMING)
    if ok:
        load_effect_model(path, framing)
    else:
        with pytest.raises(LabmrtError, match="P.correct. reaches .* when aroused"):
            load_effect_model(path, framing)
