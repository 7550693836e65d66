"""The LSL marker stream: a real inlet receives a documented JSON marker for every decision
point and feature-use event, stamped with the time of the fact, and the store keeps a copy."""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import pylsl
import pytest

from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine
from labmrt.session.clock import LSLClock
from labmrt.session.markers import MarkerOutlet, marker_text
from labmrt.store import StudyStore

PROTOCOL = """
[study]
title = "marker test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "loss"
label = "Loss"
framing = "LOSS {task}"

[randomization]
seed = 3
probabilities = { neutral = 0.5, loss = 0.5 }

[[features]]
id = "help"
label = "Help"
kind = "help"

[[outcomes]]
name = "help_s"
features = ["help"]
measure = "duration"

[[tasks]]
id = "a"
text = "first"

[[tasks]]
id = "b"
text = "second"

[[tasks]]
id = "c"
text = "third"
"""


class QuickParticipant:
    """Opens and closes help in every task, a few milliseconds apart, in real time."""

    def __init__(self, clock):
        self.clock = clock

    def begin_phase(self, phase, duration_s):
        pass

    def end_phase(self, phase):
        pass

    def end_session(self, status, reason):
        pass

    def present(self, task, report):
        shown = self.clock.now()
        report("help", "open", self.clock.now(), "")
        time.sleep(0.01)
        report("help", "close", self.clock.now(), '{"reason": "done"}')
        end = self.clock.now()
        return {"shown_t": shown, "end_t": end, "answer": "x", "answer_t": end}


def test_marker_text_is_compact_sorted_json():
    text = marker_text("feature", session=1, feature="help", value=float("nan"))
    assert text == '{"event":"feature","feature":"help","session":1,"v":1,"value":null}'


def test_inlet_receives_every_decision_and_feature_event(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(textwrap.dedent(PROTOCOL))
    protocol = load_protocol(path)
    source_id = f"test-markers-{uuid.uuid4()}"
    outlet = MarkerOutlet(f"labmrt-test-{uuid.uuid4().hex[:8]}", source_id, participant="P01")
    found = pylsl.resolve_byprop("source_id", source_id, 1, 10.0)
    assert found, "the marker outlet was not found on the network"
    info = found[0]
    assert info.type() == "Markers"
    assert info.channel_format() == pylsl.cf_string
    assert info.nominal_srate() == pylsl.IRREGULAR_RATE
    inlet = pylsl.StreamInlet(info, max_buflen=60)
    inlet.open_stream(timeout=10.0)
    time.sleep(0.3)  # let the connection settle before the first push

    clock = LSLClock()
    with StudyStore.open(tmp_path / "study", create=True) as store:
        engine = SessionEngine(
            protocol, store, "P01", QuickParticipant(clock), clock=clock, markers=outlet
        )
        assert engine.run() == "completed"
        stored = store.markers(engine.session_id)
        decisions = store.decisions(engine.session_id)
        events = store.events(engine.session_id)

    received = []
    deadline = time.monotonic() + 10.0
    while len(received) < len(stored) and time.monotonic() < deadline:
        sample, ts = inlet.pull_sample(timeout=0.5)
        if sample is not None:
            received.append((ts, sample[0]))
    inlet.close_stream()

    # the inlet got exactly the markers the store kept, with the same time stamps
    assert [m for _, m in received] == stored["marker"].tolist()
    assert [t for t, _ in received] == pytest.approx(stored["t"].tolist(), abs=1e-9)

    payloads = [json.loads(m) for _, m in received]
    assert all(p["v"] == 1 and p["participant"] == "P01" for p in payloads)
    dec = [p for p in payloads if p["event"] == "decision"]
    assert [p["decision_point"] for p in dec] == [0, 1, 2]
    assert [p["arm"] for p in dec] == decisions["arm"].tolist()
    assert all(p["probabilities"] == {"neutral": 0.5, "loss": 0.5} for p in dec)
    assert {p["protocol_hash"] for p in dec} == {protocol.content_hash}
    dec_times = [
        t for (t, _), p in zip(received, payloads, strict=True) if p["event"] == "decision"
    ]
    assert dec_times == pytest.approx(decisions["t"].tolist(), abs=1e-9)
    feats = [p for p in payloads if p["event"] == "feature"]
    assert len(feats) == len(events) == 6
    assert [(p["feature"], p["action"]) for p in feats] == [("help", "open"), ("help", "close")] * 3
    assert feats[1]["detail"] == '{"reason": "done"}'
    feat_times = [
        t for (t, _), p in zip(received, payloads, strict=True) if p["event"] == "feature"
    ]
    assert feat_times == pytest.approx(events["t"].tolist(), abs=1e-9)
    kinds = [p["event"] for p in payloads]
    assert kinds[0] == "status" and payloads[0]["status"] == "running"
    assert kinds[-1] == "status" and payloads[-1]["status"] == "completed"
    # each decision marker precedes the task it frames
    for i, k in enumerate(kinds):
        if k == "task_shown":
            assert kinds[i - 1] == "decision"
