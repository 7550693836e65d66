"""Offline replay: recorded files through the live pipeline and classifier (``sensors replay``)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

from labmrt.cli import main
from labmrt.commands.sensors_monitor import state_record
from labmrt.state import AffectState
from sensors.replay import (
    Segment,
    load_csv_signals,
    marker_span,
    parse_signal_spec,
    rate_from_times,
    read_segments,
    replay_recording,
    score,
)
from sensors.signals import detect_beats
from sensors.simulate import ArousalSchedule, generate_recording

# calm, then aroused: spans chosen so that 30 s HRV windows fit wholly inside each
SCHEDULE = [(0.0, "calm"), (100.0, "aroused")]
DURATION_S = 201.0
REST, STRESS = (40.0, 95.0), (105.0, 160.0)
END = 175.0
WINDOWS = ["--hrv-window", "30", "--eda-window", "20"]
LSL_OFFSET = 5000.0
# the calibration spans and the stretch printed, as `sensors replay` options
CALIBRATED = [
    "--calibrate-rest",
    f"{REST[0]:g}:{REST[1]:g}",
    "--calibrate-stress",
    f"{STRESS[0]:g}:{STRESS[1]:g}",
    "--start",
    f"{REST[0]:g}",
    "--end",
    f"{END:g}",
]


@pytest.fixture(scope="module")
def recording():
    """A simulated ECG + EDA recording (NeuroKit2 waveforms, the simulator's own functions)."""
    return generate_recording(
        seed=11,
        schedule=ArousalSchedule(SCHEDULE),
        duration_s=DURATION_S,
        ecg=True,
        eda=True,
        ecg_rate=128,
        eda_rate=16,
    )


@pytest.fixture(scope="module")
def csv_files(recording, tmp_path_factory):
    """The recording as a lab would export it: one CSV per signal, EDA gzipped."""
    folder = tmp_path_factory.mktemp("replay")
    ecg, ts_ecg, _ = recording["ecg"]
    eda, ts_eda, _ = recording["eda"]
    ecg_path = folder / "ecg.csv"
    eda_path = folder / "eda.csv.gz"
    pd.DataFrame({"time_s": ts_ecg, "ecg_mv": ecg, "marker": "x"}).to_csv(ecg_path, index=False)
    pd.DataFrame({"time_s": ts_eda, "eda_us": eda}).to_csv(eda_path, index=False)
    return {"ecg": ecg_path, "eda": eda_path, "folder": folder}


@pytest.fixture(scope="module")
def library_replay(recording):
    """The library call a bench makes, on the arrays themselves."""
    signals = dict(recording.signals)
    return replay_recording(
        signals, REST, STRESS, start=REST[0], end=END, hrv_window_s=30.0, eda_window_s=20.0
    )


def _segments(path):
    path.write_text("start_s,end_s,state\n0,100,calm\n100,201,aroused\n")
    return path


def test_library_replay_calibrates_on_the_spans_and_follows_the_truth(library_replay, recording):
    rep = library_replay
    clf = rep.classifier
    assert clf.method == "logistic" and clf.n_rest >= 10 and clf.n_stress >= 10
    assert clf.is_calibrated and clf.used_features
    # one update per second on the recording's own time axis, from --start to the end
    t = np.array([s.t for s in rep.states])
    assert t[0] == pytest.approx(REST[0], abs=0.01)
    assert np.allclose(np.diff(t), 1.0, atol=0.01)
    assert t[-1] == pytest.approx(END, abs=0.01)
    # calibration rows came from inside the spans only
    for name, (a, b) in (("rest", REST), ("stressor", STRESS)):
        rows = [t for t, _ in rep.phases[name].rows]
        assert min(rows) >= a and max(rows) <= b
    sc = score(rep, [Segment(0, 100, "calm"), Segment(100, 201, "aroused")], skip_s=30)
    assert sc.n > 90
    assert sc.unknown_share < 0.2
    assert sc.balanced_accuracy > 0.9, sc.table()


def test_cli_on_csv_files_prints_the_monitor_json_lines_and_scores(
    library_replay, csv_files, tmp_path, capsys
):
    segments = _segments(tmp_path / "segments.csv")
    code = main(
        [
            "sensors",
            "replay",
            "--signal",
            f"ecg={csv_files['ecg']}:ecg_mv",
            "--signal",
            f"eda={csv_files['eda']}",  # column picked by its name (eda_us)
            *CALIBRATED,
            "--jsonl",
            "--segments",
            str(segments),
            "--skip",
            "30",
            "--every",
            "2",
            *WINDOWS,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    # the same states as the library call, each line exactly the monitor's record
    assert len(lines) == len(library_replay.states)
    for rec, state in zip(lines, library_replay.states, strict=True):
        phase = library_replay.phase_at(state.t)
        assert rec == json.loads(json.dumps(state_record(state, phase)))
    assert {r["phase"] for r in lines} == {"rest", "stressor", None}
    assert "using ECG <- ecg.csv:ecg_mv [mv (as is)], 128 Hz from the time stamps" in err
    assert "using EDA <- eda.csv.gz:eda_us [us (as is)], 16 Hz from the time stamps" in err
    assert "calibrated: logistic" in err
    # the score goes to stderr so that stdout stays one JSON object per update
    assert "balanced accuracy over known states: 1.000" in err
    assert "every 2, 30 s skipped" in err


def test_xdf_replay_with_marker_spans_equals_the_csv_replay(
    library_replay, recording, tmp_path, capsys
):
    from labmrt.export.xdf import XdfStream, write_xdf
    from labmrt.session.markers import marker_text

    ecg, ts_ecg, _ = recording["ecg"]
    eda, ts_eda, _ = recording["eda"]
    counter = np.arange(ts_ecg.size, dtype=float)
    marks = [
        (REST[0], marker_text("phase_start", phase="rest")),
        (REST[1], marker_text("phase_end", phase="rest")),
        (STRESS[0], marker_text("phase_start", phase="stressor")),
        (STRESS[1], marker_text("phase_end", phase="stressor")),
    ]
    path = write_xdf(
        tmp_path / "session.xdf",
        [
            # a hub: counter first, then the ECG channel, described in the metadata
            XdfStream(
                "Hub",
                "Biosignals",
                "hub-1",
                np.column_stack([counter, ecg]),
                ts_ecg + LSL_OFFSET,
                128.0,
                channel_labels=["nSeq", "ECG"],
            ),
            XdfStream("Skin", "EDA", "gsr-1", eda, ts_eda + LSL_OFFSET, 16.0, unit="microsiemens"),
            XdfStream(
                "labmrt markers",
                "Markers",
                "mk-1",
                [m for _, m in marks],
                np.array([t for t, _ in marks]) + LSL_OFFSET,
                channel_labels=["marker"],
            ),
        ],
    )
    code = main(
        [
            "sensors",
            "replay",
            "--xdf",
            str(path),
            "--calibrate-rest",
            "rest",  # labmrt's phase markers name the spans
            "--calibrate-stress",
            "stressor",
            "--start",
            f"{REST[0]:g}",
            "--end",
            f"{END:g}",
            "--jsonl",
            *WINDOWS,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"time 0 s = LSL time {LSL_OFFSET:.3f}" in err
    assert "using ECG <- 'Hub' channel 1 'ECG'" in err  # not the counter in channel 0
    assert "using EDA <- 'Skin' channel 0" in err
    assert f"spans: rest {REST[0]:g}-{REST[1]:g} s, stressor {STRESS[0]:g}-{STRESS[1]:g} s\n" in err
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in recs] == [s.label for s in library_replay.states]
    assert np.allclose([r["t"] for r in recs], [s.t for s in library_replay.states], atol=1e-3)


@pytest.fixture(scope="module")
def beat_files(recording, csv_files):
    """What a chest strap and a wristband bridge publish: R-R intervals (ms), heart rate (1 Hz)."""
    ecg, ts, _ = recording["ecg"]
    beats = ts[detect_beats(ecg, recording.sfreq["ecg"], "ecg")]
    rr = np.diff(beats)
    rr_path = csv_files["folder"] / "rr.csv"
    pd.DataFrame({"time_s": beats[1:], "rr_ms": np.round(rr * 1000.0)}).to_csv(rr_path, index=False)
    seconds = np.arange(1.0, DURATION_S - 1)
    last = np.searchsorted(beats[1:], seconds, side="right") - 1
    hr = np.where(last >= 0, 60.0 / rr[np.clip(last, 0, None)], np.nan)
    hr_path = csv_files["folder"] / "hr.csv"
    pd.DataFrame({"time_s": seconds, "hr_bpm": hr}).to_csv(hr_path, index=False)
    return {"rr": rr_path, "hr": hr_path, "beats": beats}


def test_cli_replays_beat_intervals_and_prints_only_the_score(
    beat_files, csv_files, tmp_path, capsys
):
    segments = _segments(tmp_path / "segments.csv")
    code = main(
        [
            "sensors",
            "replay",
            "--signal",
            f"ibi={beat_files['rr']}",
            "--signal",
            f"eda={csv_files['eda']}",
            *CALIBRATED,
            "--no-updates",
            "--segments",
            str(segments),
            "--skip",
            "30",
            *WINDOWS,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "using IBI <- rr.csv:rr_ms [ms -> s (x 0.001)], irregular" in err
    assert "calibrated: " in err
    # the score only, no line per update: header, two rows, two lines of figures
    assert out.count("\n") == 5, out
    assert out.startswith("truth \\ state") and "scored updates: 106 (every 1, 30 s" in out


def test_intervals_give_the_heart_rate_of_their_window(beat_files):
    rec = load_csv_signals([parse_signal_spec(f"ibi={beat_files['rr']}")])
    assert rec.signals["ibi"][2] == 0.0  # irregular: one sample per beat
    rep = replay_recording(rec, start=60.0, end=70.0, hrv_window_s=30.0)
    beats = beat_files["beats"]
    for st in rep.states:
        inside = beats[(beats >= st.windows["hr"][0]) & (beats <= st.windows["hr"][1])]
        assert st.features["hr"] == pytest.approx(60.0 / np.mean(np.diff(inside)), rel=0.02)
        assert st.features["rmssd"] is not None
        assert set(st.quality) == {"ibi"}


def test_heart_rate_only_gives_the_hr_feature(beat_files):
    rec = load_csv_signals([parse_signal_spec(f"hr={beat_files['hr']}")])
    rep = replay_recording(rec, start=60.0, end=70.0, hrv_window_s=30.0)
    assert len(rep.states) == 11
    beats = beat_files["beats"]
    for st in rep.states:
        # the mean heart rate over the window, against the beats themselves
        inside = beats[(beats > st.t - 30.0) & (beats <= st.t)]
        assert st.features["hr"] == pytest.approx(60.0 / np.mean(np.diff(inside)), rel=0.05)
        assert st.quality == {"hr": 1.0}
        assert st.features["rmssd"] is None


def test_a_saved_model_replaces_the_calibration(library_replay, csv_files, tmp_path, capsys):
    sig = ["--signal", f"ecg={csv_files['ecg']}:ecg_mv", "--signal", f"eda={csv_files['eda']}"]
    per_participant = library_replay.classifier.save(tmp_path / "participant.json")
    code, err = _run(capsys, *sig, "--model", str(per_participant))
    assert code == 2 and "--model: this model standardises each participant" in err
    clf = copy.deepcopy(library_replay.classifier)
    clf.baseline_source = "training"  # as `sensors train` without --group writes it
    model = clf.save(tmp_path / "training.json")
    code = main(
        ["sensors", "replay", *sig, "--model", str(model), "--start", "150", "--end", "160"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"model {model}: logistic on " in err
    lines = out.splitlines()
    assert len(lines) == 11 and lines[0].startswith("150.00 ")
    # the stressor part of the recording, classified from the first update on
    assert sum(" aroused p=" in line for line in lines) >= 9, out


def test_marker_spans_from_plain_labrecorder_markers():
    markers = [(10.0, "baseline_start"), (70.0, "Baseline End"), (80.0, "stroop"), (95.0, "x")]
    assert marker_span(markers, "baseline", 200.0) == (10.0, 70.0)
    assert marker_span(markers, "stroop", 200.0) == (80.0, 95.0)
    with pytest.raises(Exception, match="no marker 'tsst'.*baseline_start"):
        marker_span(markers, "tsst", 200.0)


def test_score_counts_skip_and_every():
    states = [
        AffectState(t=float(t), label="calm" if t < 50 else "aroused" if t % 3 else "unknown")
        for t in range(100)
    ]
    segs = [Segment(0, 50, "calm"), Segment(50, 80, "other"), Segment(80, 100, "aroused")]
    sc = score(states, segs)
    assert sc.confusion["calm"] == {"calm": 50, "aroused": 0, "unknown": 0}
    # t = 80..99: multiples of 3 are unknown (81, 84, ..., 99: 7 of 20)
    assert sc.confusion["aroused"] == {"calm": 0, "aroused": 13, "unknown": 7}
    assert sc.balanced_accuracy == 1.0 and sc.unknown_share == pytest.approx(7 / 70)
    skipped = score(states, segs, skip_s=10, every=2)
    # calm 10..49 (40) and aroused 90..99 (10), every other one
    assert skipped.n == 25
    assert skipped.confusion["calm"]["calm"] == 20


def test_rate_from_rounded_time_stamps():
    ts = np.round(np.arange(6400) / 64.0, 4)  # an E4 export: 0.0156 / 0.0157 s steps
    ts = np.concatenate([ts, ts[-1] + 30 + np.arange(640) / 64.0])  # and a 30 s gap
    assert rate_from_times(ts) == pytest.approx(64.0, rel=1e-3)


# ---------------------------------------------------------------------- bad input
def _run(capsys, *args):
    code = main(["sensors", "replay", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err


def test_bad_signal_arguments_exit_2(csv_files, tmp_path, capsys):
    ecg = csv_files["ecg"]
    cases = [
        (["--signal", f"ecg={tmp_path / 'nope.csv'}"], "signal file does not exist"),
        (["--signal", f"emg={ecg}"], "unknown signal kind 'emg'"),
        (["--signal", f"ecg={ecg}:volts"], "no column 'volts'"),
        (["--signal", f"ecg={ecg}", "--time-column", "t"], "no time column 't'"),
        (["--signal", "ecg"], "expected KIND=FILE[:COLUMN]"),
        (["--signal", f"ecg={ecg}", "--signal", f"ecg={ecg}"], "two signals of kind ecg"),
        (["--xdf", str(ecg)], "not a readable XDF file"),
    ]
    for args, message in cases:
        code, err = _run(capsys, *args)
        assert code == 2, args
        assert message in err, (args, err)


def test_time_that_goes_backwards_is_refused(tmp_path, capsys):
    path = tmp_path / "eda.csv"
    path.write_text("time_s,eda\n0,1\n0.25,1\n0.5,1\n0.4,1\n0.75,1\n")
    code, err = _run(capsys, "--signal", f"eda={path}")
    assert code == 2
    assert "time does not increase at line 5: 0.4 s after 0.5 s" in err
    bad = tmp_path / "eda2.csv"
    bad.write_text("time_s,eda\n0,1\n0.25,high\n")
    code, err = _run(capsys, "--signal", f"eda={bad}")
    assert code == 2 and "column 'eda' holds 'high' at line 3" in err


def test_calibration_spans_outside_or_too_short_exit_2(csv_files, capsys):
    sig = ["--signal", f"ecg={csv_files['ecg']}:ecg_mv", "--signal", f"eda={csv_files['eda']}"]
    code, err = _run(capsys, *sig, "--calibrate-rest", "150:400")
    assert code == 2 and "--calibrate-rest: 150:400 s lies outside the recording" in err
    code, err = _run(capsys, *sig, "--calibrate-rest", "90:80")
    assert code == 2 and "START must be before END" in err
    code, err = _run(capsys, *sig, "--calibrate-rest", "baseline")
    assert code == 2 and "the recording has no markers" in err
    code, err = _run(capsys, *sig, "--calibrate-stress", "100:150")
    assert code == 2 and "a stressor span needs a rest span too" in err
    code, err = _run(capsys, *sig, "--calibrate-rest", "40:100", "--calibrate-stress", "90:150")
    assert code == 2 and "--calibrate-stress: the stressor span 90:150 s overlaps the rest" in err
    code, err = _run(capsys, *sig, "--start", "300")
    assert code == 2 and "must lie inside the recording" in err
    # a rest span too short to give the calibration its windows
    code, err = _run(capsys, *sig, "--calibrate-rest", "0:6", "--end", "8", *WINDOWS)
    assert code == 2
    assert "calibration (--calibrate-rest 0:6)" in err and "at least 10 windows" in err


def test_bad_segments_exit_2(csv_files, tmp_path, capsys):
    sig = ["--signal", f"eda={csv_files['eda']}"]
    overlap = tmp_path / "overlap.csv"
    overlap.write_text("start_s,end_s,state\n0,60,calm\n50,100,aroused\n")
    code, err = _run(capsys, *sig, "--segments", str(overlap))
    assert code == 2 and "segments overlap: line 3 starts at 50 s, before line 2 ends" in err
    cols = tmp_path / "cols.csv"
    cols.write_text("from,to,state\n0,60,calm\n")
    code, err = _run(capsys, *sig, "--segments", str(cols))
    assert code == 2 and "no start_s column" in err
    code, err = _run(capsys, *sig, "--skip", "30")
    assert code == 2 and "--segments" in err


def test_segments_of_several_subjects_need_one_picked(tmp_path):
    path = tmp_path / "seg.csv"
    path.write_text(
        "subject,phase,state,t_start_s,t_end_s\nS1,base,calm,0,60\nS1,hv,other,60,90\n"
        "S2,base,calm,0,50\n"
    )
    with pytest.raises(Exception, match="holds 2 subjects"):
        read_segments(path)
    segs = read_segments(path, "S1")
    assert segs == [Segment(0, 60, "calm", "base"), Segment(60, 90, "other", "hv")]


# ---------------------------------------------------------------------- real recordings
def test_real_wrist_recording_replays_on_its_own_time_axis(shared_data, capsys):
    """Stress-Predict S02 (Empatica E4: BVP 64 Hz, EDA 4 Hz), read in place, 20 s of it."""
    data = shared_data / "stress_predict"
    if not (data / "S02_bvp_64hz.csv.gz").is_file():
        pytest.skip(f"{data} holds no Stress-Predict recordings")
    code = main(
        [
            "sensors",
            "replay",
            "--signal",
            f"ppg={data / 'S02_bvp_64hz.csv.gz'}",
            "--signal",
            f"eda={data / 'S02_eda_4hz.csv.gz'}",
            "--start",
            "700",
            "--end",
            "719",
            "--jsonl",
            "--segments",
            str(data / "segments.csv"),
            "--subject",
            "S02",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "using PPG <- S02_bvp_64hz.csv.gz:bvp" in err and "64 Hz from the time stamps" in err
    assert "using EDA <- S02_eda_4hz.csv.gz:eda_us [us (as is)], 4 Hz" in err
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["t"] for r in recs] == [float(t) for t in range(700, 720)]
    # no calibration: unknown, but the features and qualities of both streams are there
    assert {r["state"] for r in recs} == {"unknown"}
    assert all(r["features"]["scl"] is not None and r["features"]["scl"] > 0 for r in recs)
    assert all(set(r["quality"]) == {"ppg", "eda"} for r in recs)
    assert all(r["windows"]["scl"] == [r["t"] - 30.0, r["t"]] for r in recs)
    # S02's Stroop test runs 622-998 s: all 20 updates scored as aroused, all unknown
    assert "aroused" in err and " 20\n" in err
    spec = parse_signal_spec(f"eda={data / 'S02_eda_4hz.csv.gz'}")
    rec = load_csv_signals([spec])
    assert rec.span[0] == 0.0 and math.isclose(rec.signals["eda"][2], 4.0, rel_tol=1e-3)
