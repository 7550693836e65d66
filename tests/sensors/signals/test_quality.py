"""signal_quality: each failure mode gives a low score with its own reason; clean
simulated signals score 1. Windows are 10 s, as the monitor uses them."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.signals import signal_quality
from sensors.simulate import ArousalSchedule, generate_recording


@pytest.fixture(scope="module")
def rec():
    return generate_recording(
        seed=11, schedule=ArousalSchedule.constant("calm"), duration_s=12, ppg=True
    )


@pytest.mark.parametrize("kind", ["ecg", "ppg", "eda"])
def test_clean_simulated_windows_score_one(rec, kind):
    x, _, _ = rec[kind]
    score, reason = signal_quality(kind, x[: int(10 * rec.sfreq[kind])], rec.sfreq[kind])
    assert (score, reason) == (1.0, "ok")


def test_type_words_are_accepted(rec):
    x, _, _ = rec["eda"]
    assert signal_quality("GSR", x, 64)[0] == 1.0
    with pytest.raises(ValueError, match="unknown signal kind"):
        signal_quality("EEG", x, 64)


def test_flat_and_held_signals_score_zero(rec):
    assert signal_quality("ecg", np.zeros(5000), 500) == (0.0, "flat line (no signal change)")
    held = np.repeat(rec["ecg"][0][:2500], 2)  # device repeating every value
    score, reason = signal_quality("ecg", held, 500)
    assert score == 0.0 and "repeat the previous value" in reason


def test_clipping_is_penalised(rec):
    x = rec["ecg"][0][:5000]
    score, reason = signal_quality("ecg", np.clip(x, -0.2, 0.3), 500)
    assert score == 0.0 and reason.startswith("clipping")


def test_missing_samples(rec):
    x = rec["ecg"][0][:5000].copy()
    x[:3000] = np.nan
    assert signal_quality("ecg", x, 500) == (0.0, "60% of samples missing")
    y = rec["ecg"][0][:5000].copy()
    y[100:600] = np.nan  # 1 s dropout: 10% missing, beats inside it are interpolated away
    score, reason = signal_quality("ecg", y, 500)
    assert 0.0 < score <= 0.8, (score, reason)


def test_noise_is_not_a_heartbeat():
    rng = np.random.default_rng(0)
    score, reason = signal_quality("ecg", rng.normal(size=5000), 500)
    assert score < 0.2, reason
    score, reason = signal_quality("ppg", rng.normal(size=1000), 100)
    assert score < 0.2, reason


def test_implausible_beat_intervals(rec):
    # Every other beat erased: intervals alternate, and neighbours differ by > 50%.
    x = rec["ppg"][0][:1000]
    peaks = np.array([0, 40, 200, 240, 400, 440, 600, 640, 800, 840])
    score, reason = signal_quality("ppg", x, 100, peaks=peaks)
    assert score < 0.5 and "implausible beat intervals" in reason


def test_too_short_and_empty():
    assert signal_quality("ecg", np.ones(10), 500)[1] == "only 0.0 s of signal, need 4 s"
    assert signal_quality("eda", np.array([]), 64) == (0.0, "no samples")
    assert signal_quality("eda", np.ones(640), 0)[0] == 0.0


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        (0.01, "no skin contact"),
        (300.0, "not physiological"),
        (-1.0, "negative skin conductance"),
    ],
)
def test_eda_range(level, reason):
    x = level + np.random.default_rng(1).normal(0, 0.001, 640)
    score, why = signal_quality("eda", x, 64)
    assert score == 0.0 and reason in why


def test_eda_jumps(rec):
    x = rec["eda"][0][:640].copy()
    x[300:] += 2.0  # electrode moved: a 2 uS step within one sample
    score, reason = signal_quality("eda", x, 64)
    assert score < 1.0 and "jump faster" in reason


def test_white_noise_is_not_eda():
    x = np.random.default_rng(2).uniform(0, 1, 640)  # a generator sending rand()
    score, reason = signal_quality("eda", x, 64)
    assert score == 0.0 and "noise-like" in reason


@pytest.mark.parametrize("kind", ["ecg", "ppg"])
def test_beats_without_a_template_index_are_not_a_clean_signal(rec, kind, monkeypatch):
    # Plausible intervals alone are what noise can pass off as heartbeats: when the
    # template index cannot be computed, the window must not score as clean.
    import sensors.signals.quality as quality

    def no_index(*args, **kwargs):
        raise ValueError("no complete beats")

    monkeypatch.setattr(quality.nk, "ppg_quality", no_index)
    x, _, _ = rec[kind]
    score, reason = signal_quality(kind, x[: int(10 * rec.sfreq[kind])], rec.sfreq[kind])
    assert score == 0.0
    assert reason == "beat template could not be computed (ValueError)"
