"""``labmrt sensors play``: recordings streamed back as live LSL outlets.

The end-to-end check runs the player and ``sensors monitor`` as two processes
on a real Stress-Predict recording and compares the monitor's features with
``sensors replay`` on the same file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pylsl
import pytest

from labmrt.export.xdf import XdfStream, XdfWriter
from sensors.replay import Player, load_xdf_streams

LABMRT = [sys.executable, "-m", "labmrt.cli"]
SUBJECT = "S03"  # clean wrist PPG (a heart rate every second) from 513 s to 864 s
PLAY = (450.0, 610.0)  # recording seconds played; the HRV window (60 s) is full from 510 s
SPEED = 10.0
# Agreement asked of the live monitor with the offline replay. Both run the same pipeline
# on windows of the same samples, but the monitor's windows end where its updates fall
# (every 1/10 s of wall time, about 1 s of recording at speed 10), not on the replay's
# whole seconds; the replay's series is interpolated at the monitor's window ends. A 60 s
# heart-rate window whose end moves by a fraction of a second gains or loses a beat at an
# edge, a step of about 60/75 of a beat per minute = 1.3 bpm at 75 bpm that the interpolation
# cannot follow: so the median difference is held to 0.75 bpm and 90% of updates to 2 bpm.
# The skin-conductance level (a 30 s mean of a slow signal) is held to 0.002 uS at the
# median and 0.01 uS at the 90th percentile.
HR_TOL_BPM = (0.75, 2.0)
SCL_TOL_US = (0.002, 0.01)


def _xdf(path: Path) -> None:
    t = 500.0 + np.arange(300) / 100.0
    with XdfWriter(path) as xdf:
        xdf.write_stream(
            XdfStream(
                name="BioAmp ECG",
                type="ECG",
                source_id="amp-1",
                data=np.column_stack([np.sin(t), np.cos(t)]),
                timestamps=t,
                nominal_srate=100.0,
                channel_labels=["ECG1", "ECG2"],
                unit="mV",
                clock_offsets=[(500.0, 0.0), (503.0, 0.0)],
            )
        )
        xdf.write_stream(
            XdfStream(
                name="task markers",
                type="Markers",
                source_id="mk-1",
                data=["start", "stop"],
                timestamps=np.array([500.5, 502.5]),
                channel_labels=["marker"],
                clock_offsets=[(500.0, 0.0), (503.0, 0.0)],
            )
        )


def test_xdf_streams_are_published_with_their_header_and_spacing(tmp_path):
    path = tmp_path / "pilot.xdf"
    _xdf(path)
    playable = load_xdf_streams(path)
    assert playable.t0 == pytest.approx(500.0)
    ecg = next(s for s in playable.streams if s.type == "ECG")
    assert [c["label"] for c in ecg.channels] == ["ECG1", "ECG2"]
    player = Player(playable, speed=20.0, file=str(path)).start()
    try:
        found = pylsl.resolve_byprop("source_id", "amp-1", timeout=5.0)
        marks = pylsl.resolve_byprop("source_id", "mk-1", timeout=5.0)
        assert found and marks
        info = found[0]
        assert (info.name(), info.type(), info.channel_count(), info.nominal_srate()) == (
            "BioAmp ECG",
            "ECG",
            2,
            100.0,
        )
        inlet = pylsl.StreamInlet(info, max_buflen=60)
        full = inlet.info(timeout=5.0)
        ch = full.desc().child("channels").child("channel")
        assert (ch.child_value("label"), ch.child_value("unit")) == ("ECG1", "mV")
        marker_inlet = pylsl.StreamInlet(marks[0])
        marker_inlet.open_stream(timeout=5.0)
        inlet.open_stream(timeout=5.0)
        assert player.wait(10.0)
        data, stamps = [], []
        for _ in range(50):
            chunk, ts = inlet.pull_chunk(timeout=0.2, max_samples=1000)
            data += chunk
            stamps += ts
            if len(stamps) >= 300:
                break
        texts = [marker_inlet.pull_sample(timeout=1.0)[0] for _ in range(2)]
    finally:
        player.stop()
    # late joiners may miss the first samples; the ones received keep value and spacing
    assert len(stamps) > 200
    np.testing.assert_allclose(np.diff(stamps), 0.01, atol=1e-6)
    first = int(round((stamps[0] - player.t0) * 100))
    np.testing.assert_allclose(np.array(data)[:, 0], ecg.data[first : first + len(data), 0])
    assert texts == [["start"], ["stop"]]


def test_loop_keeps_the_stamps_increasing(tmp_path):
    path = tmp_path / "pilot.xdf"
    _xdf(path)
    player = Player(load_xdf_streams(path), loop=True, speed=50.0, start=0.0, end=1.0)
    sent: list[float] = []
    player.outlets = [_Recorder(sent) for _ in player._streams]
    player.t0 = 100.0
    counts = [0, 0]
    player._push_until(counts, np.inf, 0)
    counts = [0, 0]
    player._push_until(counts, np.inf, 1)
    assert np.all(np.diff(sent[:202]) > 0)  # the ECG stream's two passes, one after the other
    assert sent[101] - sent[100] == pytest.approx(0.01)


class _Recorder:
    def __init__(self, sent: list[float]):
        self.sent = sent

    def push_chunk(self, chunk, stamps) -> None:
        self.sent += stamps

    def push_sample(self, sample, stamp) -> None:
        pass


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    from labmrt.cli import main

    assert main(["sensors", "play"]) == 2
    assert "give an XDF FILE or --signal" in capsys.readouterr().err
    assert main(["sensors", "play", str(tmp_path / "none.xdf")]) == 2
    assert "XDF file does not exist" in capsys.readouterr().err
    path = tmp_path / "pilot.xdf"
    _xdf(path)
    assert main(["sensors", "play", str(path), "--start", "9", "--end", "5"]) == 2
    assert "nothing to play" in capsys.readouterr().err


def _rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_monitor_on_a_played_recording_matches_the_offline_replay(shared_data, tmp_path):
    bvp = shared_data / "stress_predict" / f"{SUBJECT}_bvp_64hz.csv.gz"
    eda = shared_data / "stress_predict" / f"{SUBJECT}_eda_4hz.csv.gz"
    signals = ["--signal", f"ppg={bvp}:bvp", "--signal", f"eda={eda}:eda_us"]
    start, end = PLAY
    replay = subprocess.Popen(  # offline, beside the live pair (the machine has two cores)
        [*LABMRT, "sensors", "replay", *signals, "--jsonl", "--start", str(start)]
        + ["--end", str(end)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    player = subprocess.Popen(
        [*LABMRT, "sensors", "play", *signals, "--start", str(start), "--end", str(end)]
        + ["--speed", str(SPEED), "--wait", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(player.stdout.readline())["event"] == "open"
        monitor = subprocess.Popen(
            [*LABMRT, "sensors", "monitor", "--jsonl", "--name", SUBJECT, "--timeout", "2"]
            + ["--interval", str(1 / SPEED), "--duration", str((end - start) / SPEED - 1)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        playing = json.loads(player.stdout.readline())  # once the monitor reads every stream
        live_out, live_err = monitor.communicate(timeout=120)
    except BaseException:
        replay.kill()
        raise
    finally:
        player.kill()
        player.wait()
    assert monitor.returncode == 0, live_err[-2000:]
    offline = _rows(replay.communicate(timeout=300)[0])
    assert replay.returncode == 0
    pairs = {}
    for feature in ("hr", "scl"):
        # the replay's series on its window ends, interpolated at the monitor's window ends
        ends, values = np.array(
            [(r["windows"][feature][1], r["features"][feature]) for r in offline
             if feature in r["windows"] and r["features"].get(feature) is not None]
        ).T  # fmt: skip
        got = []
        for row in _rows(live_out):
            value = row["features"].get(feature)
            if feature not in row["windows"] or value is None:
                continue
            at = row["windows"][feature][1] - playing["t0"]  # the recording's time
            step = np.searchsorted(ends, at)
            if (
                at < start + 60
                or step == 0
                or step == len(ends)
                or ends[step] - ends[step - 1] > 1.5
            ):
                continue  # the window is not full yet, or the replay has no value on both sides
            got.append((value, float(np.interp(at, ends, values))))
        pairs[feature] = np.array(got)
    hr, scl = pairs["hr"], pairs["scl"]
    assert len(hr) >= 60 and len(scl) >= 60, (len(hr), len(scl))
    hr_diff, scl_diff = np.abs(hr[:, 0] - hr[:, 1]), np.abs(scl[:, 0] - scl[:, 1])
    print(
        f"\n{SUBJECT} played at x{SPEED:g} ({start:g}-{end:g} s): heart rate "
        f"{hr[:, 1].mean():.1f} bpm, |monitor - replay| median {np.median(hr_diff):.3f} "
        f"p90 {np.quantile(hr_diff, 0.9):.3f} max {hr_diff.max():.3f} bpm ({len(hr)} updates); "
        f"SCL {scl[:, 1].mean():.3f} uS, median {np.median(scl_diff):.4f} "
        f"p90 {np.quantile(scl_diff, 0.9):.4f} max {scl_diff.max():.4f} uS ({len(scl)})"
    )
    assert np.median(hr_diff) <= HR_TOL_BPM[0] and np.quantile(hr_diff, 0.9) <= HR_TOL_BPM[1]
    assert np.median(scl_diff) <= SCL_TOL_US[0] and np.quantile(scl_diff, 0.9) <= SCL_TOL_US[1]
