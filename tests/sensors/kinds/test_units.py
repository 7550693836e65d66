"""Unit conversion, including BITalino's datasheet transfer functions for raw ADC codes."""

import numpy as np
import pytest

from sensors.kinds import UnitError, conversion_for
from sensors.simulate.layouts import _bitalino_ecg, _bitalino_eda


@pytest.mark.parametrize(
    "kind, unit, raw, expected",
    [
        ("eda", "uS", 3.0, 3.0),
        ("eda", "µS", 3.0, 3.0),
        ("eda", "nS", 3000.0, 3.0),
        ("eda", "microsiemens", 3.0, 3.0),
        ("eda", "kOhm", 250.0, 4.0),
        ("eda", "MOhm", 0.5, 2.0),
        ("eda", "Ohm", 500_000.0, 2.0),
        ("ecg", "mV", 1.2, 1.2),
        ("ecg", "uV", 1200.0, 1.2),
        ("ecg", "V", 0.0012, 1.2),
        ("ibi", "ms", 850.0, 0.85),
        ("ibi", "s", 0.85, 0.85),
        ("ibi", "1/1024 s", 1024.0, 1.0),
        ("hr", "bpm", 72.0, 72.0),
        ("hr", "Hz", 1.2, 72.0),
    ],
)
def test_units_become_the_feature_units(kind, unit, raw, expected):
    assert conversion_for(kind, unit)(np.array([raw]))[0] == pytest.approx(expected)


def test_intervals_without_a_unit_are_read_by_magnitude():
    conv = conversion_for("ibi", "")
    assert np.allclose(conv(np.array([850.0, 0.85, 1200.0])), [0.85, 0.85, 1.2])


def test_bitalino_ecg_transfer_function_matches_the_datasheet():
    # ECG(mV) = 1000 * (ADC / 2^n - 1/2) * VCC / G_ECG, VCC = 3.3 V, G_ECG = 1100
    conv = conversion_for("ecg", "raw", device="bitalino", bits=10)
    adc = np.array([0.0, 512.0, 1023.0])
    expected = 1000.0 * (adc / 1024 - 0.5) * 3.3 / 1100
    assert np.allclose(conv(adc), expected)
    # the datasheet's range: +-1.5 mV
    assert conv(np.array([0.0]))[0] == pytest.approx(-1.5)
    assert conv(np.array([512.0]))[0] == 0.0


def test_bitalino_eda_transfer_function_matches_the_datasheet():
    # EDA(uS) = (ADC / 2^n) * VCC / 0.132, range 0-25 uS at 3.3 V
    conv = conversion_for("eda", "raw", device="bitalino", bits=10)
    assert conv(np.array([1024.0]))[0] == pytest.approx(25.0)
    assert conv(np.array([0.0]))[0] == 0.0
    six_bit = conversion_for("eda", "raw", device="bitalino", bits=6)
    assert six_bit(np.array([32.0]))[0] == pytest.approx(12.5)


def test_simulated_bitalino_codes_round_trip_within_one_code():
    mv = np.linspace(-1.4, 1.4, 50)
    us = np.linspace(0.5, 20.0, 50)
    ecg = conversion_for("ecg", "raw", device="bitalino")(_bitalino_ecg(mv))
    eda = conversion_for("eda", "raw", device="bitalino")(_bitalino_eda(us))
    assert np.max(np.abs(ecg - mv)) <= 3.3 / 1100 / 1024 * 1000
    assert np.max(np.abs(eda - us)) <= 3.3 / 0.132 / 1024


def test_unconvertible_units_are_refused_with_the_accepted_ones():
    with pytest.raises(UnitError, match="'volts' of the EDA channel.*microsiemens"):
        conversion_for("eda", "volts")
    with pytest.raises(UnitError, match="raw ADC values of an unknown device"):
        conversion_for("eda", "raw")
    with pytest.raises(UnitError, match="unknown device 'acme'"):
        conversion_for("eda", "raw", device="acme")


def test_ecg_and_ppg_in_unknown_units_are_kept_for_beat_timing():
    assert "beat timing only" in conversion_for("ecg", "furlongs").describe()
    assert "unscaled" in conversion_for("ecg", "raw").describe()
    assert conversion_for("ppg", "nW").is_identity


def test_quantised_bitalino_eda_at_1000_hz_is_not_an_artefact():
    from sensors.signals import signal_quality
    from sensors.simulate import generate_recording

    rec = generate_recording(seed=3, duration_s=20, ecg=False, eda=True, eda_rate=1000)
    us, _, _ = rec["eda"]
    read = conversion_for("eda", "raw", device="bitalino")(_bitalino_eda(us))  # 0.024 uS steps
    assert signal_quality("eda", read[-10_000:], 1000.0) == (1.0, "ok")
    jump = read[-10_000:].copy()
    jump[5000:] += 2.0  # an electrode moving: 2 uS at once
    score, reason = signal_quality("eda", jump, 1000.0)
    assert score < 1.0 and "faster than 10 uS/s" in reason


def test_device_family_is_bitalino_only_when_the_stream_says_so():
    from sensors.kinds import device_family

    assert device_family("98:D3:31:B2:12:34", "OpenSignals", "") == "bitalino"
    assert device_family("x", "EDA", "PLUX BITalino") == "bitalino"
    assert device_family("biosignalsplux hub", "OpenSignals", "PLUX") is None
    assert device_family("Shimmer3 GSR+", "GSR", "Shimmer") is None
