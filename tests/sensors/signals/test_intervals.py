"""Beat-level cardiac sources: interval (RR/IBI) streams and heart-rate-only streams."""

import numpy as np
import pytest

from sensors.signals import (
    FeaturePipeline,
    beats_from_intervals,
    hr_feature,
    hrv_from_beats,
    ibi_features,
)


def _beats(n=200, seed=0, hr=70.0, t0=100.0):
    rng = np.random.default_rng(seed)
    rr = 60.0 / hr + 0.04 * np.sin(np.arange(n) * 0.9) + rng.normal(0, 0.015, n)
    return t0 + np.concatenate([[0.0], np.cumsum(rr)]), rr


def test_intervals_rebuild_exact_beats_despite_packet_stamping():
    times, rr = _beats()
    # a Bluetooth bridge stamps each packet of ~1 s of intervals at the packet's arrival
    stamps = np.ceil(times[1:]) + 0.05
    rebuilt, gaps, start = beats_from_intervals(rr, stamps)
    assert gaps == []
    assert np.allclose(np.diff(rebuilt), rr)  # the device's intervals, not stamp differences
    assert abs(rebuilt[-1] - stamps[0] - (times[-1] - times[1])) < 1e-9
    assert start == pytest.approx(stamps[0] - rr[0])


def test_a_hole_in_the_interval_stream_is_a_gap_never_bridged():
    times, rr = _beats()
    keep = np.r_[0:80, 100:200]  # 20 intervals (~17 s) never arrived
    rebuilt, gaps, start = beats_from_intervals(rr[keep], times[1:][keep])
    assert len(gaps) == 1
    g0, g1 = gaps[0]
    assert g0 == pytest.approx(times[80], abs=1e-2) and g1 == pytest.approx(times[100], abs=1e-2)
    assert start == pytest.approx(times[100])
    feats, _ = hrv_from_beats(rebuilt, times[60], times[120], gaps)
    # the interval across the hole is not one: HR stays a real heart rate
    assert 60 < feats["hr"] < 80


def test_ibi_features_equal_hrv_of_the_true_beats():
    times, rr = _beats(seed=1)
    stamps = times[1:] + np.random.default_rng(2).uniform(0, 0.3, rr.size)  # jittered stamps
    feats, windows, q, qreason, why = ibi_features(rr, np.sort(stamps), 60.0, 120.0)
    assert why == "" and q == 1.0 and qreason == "ok"
    rebuilt, _, _ = beats_from_intervals(rr, np.sort(stamps))
    end = rebuilt[-1]
    expected, _ = hrv_from_beats(rebuilt, end - 60.0, end)
    for name in ("hr", "rmssd", "sdnn", "hf", "hr_fast"):
        assert feats[name] == pytest.approx(expected[name])
    recent = rr[times[1:] > times[-1] - 15.0]
    assert feats["hr_fast"] == pytest.approx(60.0 / recent.mean(), rel=0.02)
    assert feats["lf"] is not None  # 120 s of intervals
    assert windows["rmssd"] == pytest.approx((end - 60.0, end))


def test_ibi_waits_for_a_full_window():
    times, rr = _beats(n=30)
    feats, _, _, _, why = ibi_features(rr, times[1:], 60.0, 120.0)
    assert feats == {} and why.startswith("IBI: 2") and "of 60 s of HRV window" in why


def test_heart_rate_only_gives_only_hr_and_scores_implausible_values():
    ts = np.arange(0.0, 90.0, 1.0)
    rates = np.full(ts.size, 72.0)
    rates[-10:-5] = 400.0  # a glitch
    feats, windows, q, qreason, why = hr_feature(rates, ts, 60.0)
    assert why == "" and set(feats) == {"hr", "hr_fast"}
    assert feats["hr"] == pytest.approx(72.0)
    # the fast rate is the last 15 s alone, the implausible glitch inside it left out
    assert feats["hr_fast"] == pytest.approx(72.0)
    assert windows["hr"] == (ts[-1] - 60.0, ts[-1])
    assert windows["hr_fast"] == (ts[-1] - 15.0, ts[-1])
    assert q == pytest.approx(55 / 60) and "implausible" in qreason


def test_pipeline_uses_intervals_or_hr_only_when_no_waveform_gives_a_heart_rate():
    times, rr = _beats(n=120, seed=4, t0=0.0)
    hr_ts = np.arange(0.0, times[-1], 1.0)
    signals = {
        "ibi": (rr, times[1:], 0.0),
        "hr": (np.full(hr_ts.size, 99.0), hr_ts, 1.0),
    }
    res = FeaturePipeline(hrv_window_s=60.0).update(signals)
    assert res.cardiac_source == "ibi"
    assert 60 < res.features["hr"] < 80 and res.features["rmssd"] is not None
    assert 60 < res.features["hr_fast"] < 80  # what the live classifier follows
    assert res.quality["ibi"] == 1.0
    only_hr = FeaturePipeline(hrv_window_s=60.0).update({"hr": signals["hr"]})
    assert only_hr.cardiac_source == "hr"
    assert only_hr.features["hr"] == pytest.approx(99.0)
    assert only_hr.features["rmssd"] is None and "hr" in only_hr.windows
