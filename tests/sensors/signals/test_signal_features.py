"""HRV and EDA window features: exact on constructed input, true to the simulator's known
physiology, and missing (never wrong) where the window cannot support a number."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.signals import (
    HF_MIN_S,
    LF_MIN_S,
    BeatTracker,
    FeaturePipeline,
    as_frame,
    clean_intervals,
    detect_beats,
    drop_extra_beats,
    eda_window,
    hrv_from_beats,
    hrv_window,
    offline_updates,
)
from sensors.simulate import ArousalSchedule, generate_recording

SCHEDULE = ArousalSchedule([(0, "calm"), (75, "aroused")])


@pytest.fixture(scope="module")
def rec():
    return generate_recording(
        seed=31, schedule=SCHEDULE, duration_s=150, ppg=True, hr_calm=(58, 66), noise=1.0
    )


def _beats_from_rr(rr_s: np.ndarray, t0: float = 100.0) -> np.ndarray:
    return t0 + np.r_[0.0, np.cumsum(rr_s)]


def test_time_domain_matches_the_definitions_exactly():
    rng = np.random.default_rng(1)
    rr = 0.8 + 0.05 * rng.standard_normal(80)
    times = _beats_from_rr(rr)
    feats, windows = hrv_from_beats(times, times[0], times[-1])
    assert feats["hr"] == pytest.approx(60.0 / rr.mean(), rel=1e-9)
    ms = rr * 1000
    assert feats["rmssd"] == pytest.approx(np.sqrt(np.mean(np.diff(ms) ** 2)), rel=1e-9)
    assert feats["sdnn"] == pytest.approx(np.std(ms, ddof=1), rel=1e-9)
    assert windows["rmssd"] == (times[0], times[-1])


def test_artefacts_and_gaps_are_left_out_not_bridged():
    rr = np.full(60, 0.8)
    rr[::2] += 0.02  # alternating 820/800 ms: every successive difference is 20 ms
    times = _beats_from_rr(rr)
    extra = np.sort(np.r_[times, times[30] + 0.4])  # a spurious beat 400 ms after a real one
    cleaned = clean_intervals(extra)
    assert np.isnan(cleaned).sum() == 2  # both halves of the split interval (>30% off)
    feats, _ = hrv_from_beats(extra, extra[0], extra[-1])
    # RMSSD over successive clean pairs only: still exactly 20 ms, not inflated by the artefact
    assert feats["rmssd"] == pytest.approx(20.0, rel=1e-9)
    # a recording gap between beats 40 and 41: that interval does not exist
    gap = (times[40] + 0.1, times[41] - 0.1)
    rr_gap = clean_intervals(times, [gap])
    assert np.isnan(rr_gap[40]) and np.isfinite(rr_gap).sum() == len(rr) - 1


def test_frequency_power_only_from_long_enough_windows_and_in_the_right_band():
    # RR modulated at 0.25 Hz (breathing, HF band) and, weaker, at 0.1 Hz (LF band)
    t, times = 0.0, []
    while t < 200:
        times.append(t)
        t += 0.85 + 0.04 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * np.sin(2 * np.pi * 0.1 * t)
    times = np.array(times)
    short, _ = hrv_from_beats(times, 100.0, 100.0 + HF_MIN_S - 1.0)
    assert short["hr"] is not None and short["hf"] is None and short["lf"] is None
    one_min, _ = hrv_from_beats(times, 100.0, 100.0 + HF_MIN_S)
    assert one_min["hf"] is not None and one_min["lf"] is None and one_min["lf_hf"] is None
    two_min, w = hrv_from_beats(times, 200.0 - LF_MIN_S, 200.0)
    assert two_min["lf"] is not None and "lf" in w
    # amplitude ratio 4 -> power ratio ~16; require HF to clearly dominate
    assert two_min["hf"] > 4 * two_min["lf"]


@pytest.mark.parametrize("kind", ["ecg", "ppg"])
def test_heart_rate_matches_the_simulators_known_rate(rec, kind):
    x, ts, _ = rec[kind]
    for seg, (start, state) in enumerate(SCHEDULE.segments):
        end = start + 75.0
        m = (ts >= start) & (ts < end)
        feats, info = hrv_window(x[m], rec.sfreq[kind], kind, timestamps=ts[m], window_s=60)
        known = rec.params.physiology(seg, state).hr
        # ECGSYN / ppg_simulate draw beats around the requested mean; 1.5 bpm over 60 s
        # is the spread of a mean of ~60-90 intervals with the simulated variability.
        assert feats["hr"] == pytest.approx(known, abs=1.5), (kind, state)
        assert info["windows"]["hr"] == pytest.approx((ts[m][-1] - 60.0, ts[m][-1]))
        assert info["n_beats"] >= 55


def test_calm_has_more_variability_than_aroused(rec):
    x, ts, _ = rec["ecg"]
    calm, _ = hrv_window(x[ts < 75], 500, "ecg", timestamps=ts[ts < 75])
    aroused, _ = hrv_window(x[ts >= 80], 500, "ecg", timestamps=ts[ts >= 80])
    assert calm["rmssd"] > 2 * aroused["rmssd"]
    assert calm["sdnn"] > aroused["sdnn"]


def test_ppg_and_ecg_beats_agree(rec):
    e, p = rec["ecg"], rec["ppg"]
    he = 60 / np.mean(np.diff(e[1][detect_beats(e[0], 500, "ecg")]))
    hp = 60 / np.mean(np.diff(p[1][detect_beats(p[0], 100, "ppg")]))
    assert he == pytest.approx(hp, abs=1.0)


def test_missing_samples_and_short_signals_give_no_features(rec):
    x, ts, _ = rec["ecg"]
    y = x[:35000].copy()
    y[::5] = np.nan  # 20% missing
    feats, info = hrv_window(y, 500, "ecg", timestamps=ts[:35000])
    assert all(v is None for v in feats.values())
    assert "missing" in info["reason"]
    feats, info = hrv_window(x[:500], 500, "ecg")
    assert feats["hr"] is None and info["reason"]


def test_a_few_nans_are_interpolated(rec):
    x, ts, _ = rec["ecg"]
    y = x[:35000].copy()
    y[1000:1010] = np.nan
    feats, info = hrv_window(y, 500, "ecg", timestamps=ts[:35000])
    assert feats["hr"] is not None and 0 < info["nan_share"] < 0.01


def _scr(t: np.ndarray, onset: float, amp: float) -> np.ndarray:
    """A skin-conductance response: fast rise, slow recovery, peak value ``amp``."""
    u = np.clip(t - onset, 0, None)
    shape = (1 - np.exp(-u / 0.75)) * np.exp(-u / 4.0)
    return amp * shape / shape.max() if shape.max() > 0 else shape


def test_eda_level_responses_and_amplitude_criterion():
    fs = 64
    t = np.arange(0, 45, 1 / fs)
    x = np.full(t.size, 5.0)
    window_start = t[-1] - 30
    onsets = window_start + np.array([3.0, 11.0, 19.0])  # three responses in the window
    for o in onsets:
        x += _scr(t, o, 0.5)
    x += _scr(t, 2.0, 0.5)  # one before the window: warms up the filter only
    x += _scr(t, window_start + 25.0, 0.02)  # below the 0.05 uS criterion
    feats, info = eda_window(x, fs, t0=0.0)
    assert info["n_scr"] == 3
    assert feats["scr_rate"] == pytest.approx(3 * 60 / 30)
    # the 0.05 Hz split leaves the slow part of the responses in the tonic level: it lies
    # between the true baseline and the window's mean conductance
    in_window = t >= window_start
    assert 5.0 <= feats["scl"] <= x[in_window].mean() + 0.05
    # the phasic part of a 0.5 uS response loses some height to the 0.05 Hz high-pass
    assert 0.3 < feats["scr_amp"] <= 0.55
    assert info["windows"]["scl"] == pytest.approx((t[-1] - 30, t[-1]))


def test_eda_without_responses_has_rate_zero_and_no_amplitude():
    fs = 32
    x = np.full(40 * fs, 2.0) + 0.001 * np.random.default_rng(0).standard_normal(40 * fs)
    feats, info = eda_window(x, fs)
    assert feats["scr_rate"] == 0.0 and feats["scr_amp"] is None
    assert "scr_amp" not in info["windows"]
    feats, info = eda_window(x[: 5 * fs], fs)
    assert feats["scl"] is None and info["reason"]


def test_as_frame_is_prefixed():
    df = as_frame({"hr": 70.0, "rmssd": None, "scl": 3.0})
    assert list(df.columns) == ["HRV_HR", "HRV_RMSSD", "EDA_SCL"]
    assert np.isnan(df["HRV_RMSSD"].iloc[0])


def test_incremental_beats_equal_whole_signal_detection(rec):
    x, ts, _ = rec["ecg"]
    tracker = BeatTracker("ecg", 500.0)
    for end in np.arange(1.0, 150.0, 1.0):
        m = (ts > end - 10) & (ts <= end)
        tracker.update(x[m], ts[m])
    whole = ts[detect_beats(x, 500, "ecg")]
    # the tracker keeps the last keep_s (130 s) of beats
    kept_from = tracker.processed_to - tracker.keep_s
    inner = whole[(whole >= kept_from + 0.1) & (whole <= tracker.processed_to)]
    dist = np.abs(inner[:, None] - tracker.times[None, :]).min(axis=1)
    assert np.all(dist < 0.01)  # every beat found, within 10 ms
    assert abs(len(tracker.times) - len(inner)) <= 1


def test_pipeline_marks_gaps_and_needs_a_full_window_after_them(rec):
    x, ts, _ = rec["ecg"]
    keep = (ts < 70) | (ts > 72)  # 2 s of samples never arrived
    pipe = FeaturePipeline(hrv_window_s=30)
    results = list(offline_updates({"ecg": (x[keep], ts[keep], 500.0)}, pipe))
    by_t = {round(r.t): r for r in results}
    assert by_t[69].features["hr"] is not None
    assert by_t[80].features["hr"] is None  # window would span the gap
    assert by_t[105].features["hr"] is not None
    assert by_t[105].windows["hr"][0] >= 72


def test_extra_detections_inside_intervals_are_dropped_before_hrv():
    """A slow heart (1.1 s intervals) with a T wave detected after every 4th beat."""
    rng = np.random.default_rng(2)
    rr = 1.1 + 0.03 * rng.standard_normal(70)
    times = _beats_from_rr(rr)
    with_t = np.sort(np.r_[times, times[:-1:4] + 0.4])
    assert np.isnan(clean_intervals(with_t)).mean() > 0.2  # as detected: unusable
    np.testing.assert_array_equal(drop_extra_beats(with_t), times)
    feats, _ = hrv_from_beats(with_t, with_t[0], with_t[-1])
    truth, _ = hrv_from_beats(times, times[0], times[-1])
    assert feats == truth and feats["hr"] == pytest.approx(60 / rr.mean())
