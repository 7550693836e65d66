"""Real-time wiring for the CLI: simulated LSL sensors -> live monitor -> session engine -> store.

Used by ``labmrt run --simulated-sensors`` and ``labmrt simulate --realtime``.
The simulated participant's arousal script puts the calibration where the
protocol has it (calm during the rest, aroused during the stressor, then a
random script), so the monitor calibrates on what it should; the raw signals
are recorded into the study store (at least once per second) together with
each stream's LSL clock offset.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from labmrt.errors import LabmrtError, Problem

log = logging.getLogger(__name__)


class MonitorStateSource:
    """The live monitor as the engine's state source, plus the streams it reads.

    The engine tells it the calibration phases and calls
    :meth:`fit_calibration` after them; all of that goes to the monitor.
    """

    def __init__(self, monitor: Any, *, streams: list[dict] | None = None):
        self.monitor = monitor
        self.buffers = monitor.buffers
        self.stream_info = streams or []

    def current_state(self):
        return self.monitor.current_state()

    def begin_phase(self, phase: str, t: float) -> None:
        self.monitor.begin_phase(phase)

    def end_phase(self, phase: str, t: float) -> None:
        self.monitor.end_phase()

    def fit_calibration(self):
        return self.monitor.fit_calibration()


class SampleRecorder:
    """Copies each buffer's new samples (and clock offset) into the store every ``period_s``."""

    def __init__(self, buffers: dict[str, Any], store: Any, session_id: int, period_s: float = 0.5):
        self.buffers = buffers
        self.store = store
        self.session_id = session_id
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sample-recorder", daemon=True)
        self.n_samples = 0

    def start(self) -> SampleRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._copy()

    def _run(self) -> None:
        next_offset = 0.0
        while not self._stop.wait(self.period_s):
            try:
                self._copy()
                if time.monotonic() >= next_offset:
                    self._offsets()
                    next_offset = time.monotonic() + 5.0
            except LabmrtError as err:  # full disk: the session's next write stops it
                log.error("raw samples not recorded: %s", err.message)
                return

    def _copy(self) -> None:
        for kind, buf in self.buffers.items():
            data, ts = buf.get_data()
            if len(ts) == 0:
                continue
            last = self._last.get(kind, -np.inf)
            new = ts > last
            if not new.any():
                continue
            self.store.add_samples(
                self.session_id, kind, buf.source_id, data[new], ts[new], buf.sfreq
            )
            self._last[kind] = float(ts[new][-1])
            self.n_samples += int(new.sum())

    def _offsets(self) -> None:
        from pylsl import local_clock

        for buf in self.buffers.values():
            offset = buf.clock_offset
            if offset is not None:
                self.store.add_clock_offset(
                    self.session_id, buf.source_id, float(local_clock()), float(offset)
                )


def calibration_schedule(protocol: Any, seed: int, mean_segment_s: float, lead_s: float = 5.0):
    """Calm through the rest, aroused through the stressor, then a random script."""
    from sensors.schedule import ArousalSchedule

    cal = protocol.calibration
    rest = 0.0 if cal is None else cal.rest_s
    stress = 0.0 if cal is None else cal.stressor_s
    segments: list[tuple[float, str]] = [(0.0, "calm")]
    t = lead_s + rest
    if stress > 0:
        segments.append((t, "aroused"))
        t += stress
    tail = ArousalSchedule.random(seed, 4 * 3600.0, mean_segment_s)
    for start, state in tail.segments:
        if start == 0.0 and state == segments[-1][1]:
            continue
        if start == 0.0:
            segments.append((t, state))
        else:
            segments.append((t + start, state))
    merged = [segments[0]]
    for start, state in segments[1:]:
        if state != merged[-1][1] and start > merged[-1][0]:
            merged.append((start, state))
    return ArousalSchedule(merged)


def live_state_source(protocol: Any, clock: Any, seed: int, cleanup: list, *, mean_segment_s=150.0):
    """Start simulated LSL sources and the monitor; returns (state source, truth function)."""
    import pylsl

    from sensors.discovery import StreamDescription
    from sensors.monitor import AffectMonitor
    from sensors.simulate import SimulatedSensors

    kinds = set(protocol.sensors.streams) if protocol.sensors else {"ecg", "eda"}
    sim = SimulatedSensors(
        seed=seed,
        ecg="ecg" in kinds,
        ppg="ppg" in kinds and "ecg" not in kinds,
        eda="eda" in kinds,
        schedule=calibration_schedule(protocol, seed, mean_segment_s),
    )
    sim.start()
    cleanup.append(sim.stop)
    descriptions = []
    for kind in sim.rates:
        found = pylsl.resolve_byprop("source_id", sim.source_id(kind), 1, 10.0)
        if not found:
            raise LabmrtError(
                Problem(f"simulated {kind} stream", "did not appear on the network", "retry")
            )
        descriptions.append(StreamDescription.from_info(found[0]))
    window = protocol.sensors.window_s if protocol.sensors else 30.0
    monitor = AffectMonitor(descriptions, eda_window_s=window).start()
    cleanup.append(monitor.stop)
    return MonitorStateSource(monitor, streams=sim.streams), sim.truth_at


def simulate_realtime(
    protocol: Any, out: str | Path, n_participants: int, seed: int, effects: str | None
):
    """``labmrt simulate --realtime``: sessions one after another, in real time."""
    from labmrt.clock import LSLClock
    from labmrt.markers import MarkerOutlet
    from labmrt.session import SessionEngine
    from labmrt.simulate import (
        SimulatedParticipant,
        StudyRun,
        load_effects,
        participant_codes,
    )
    from labmrt.store import DB_NAME, StudyStore

    out = Path(out)
    if (out / DB_NAME).exists():
        raise LabmrtError(
            Problem(str(out), "already holds a study database", "simulate into a new folder")
        )
    model, doc = load_effects(effects, protocol)
    started = time.perf_counter()
    codes = participant_codes(n_participants)
    truth: dict[str, Any] = {
        "what": "the known truth of a simulated labmrt study (real time, live monitor)",
        "protocol_hash": protocol.content_hash,
        "seed": int(seed),
        "effects": doc,
        "outcomes": model.truth(
            protocol.baseline_arm.id, 1.0 if protocol.control.mode == "none" else None
        ),
        "participants": {},
    }
    session_ids = []
    clock = LSLClock()
    with StudyStore.open(out, create=True) as store:
        for i, code in enumerate(codes):
            p_seed = int(np.random.SeedSequence([int(seed), i]).generate_state(1)[0]) % (2**31)
            cleanup: list = []
            try:
                source, truth_at = live_state_source(
                    protocol, clock, p_seed, cleanup, mean_segment_s=model.mean_state_segment_s
                )
                person = SimulatedParticipant(protocol, model, clock, truth_at, seed=p_seed)
                engine = SessionEngine(
                    protocol,
                    store,
                    code,
                    person,
                    state_source=source,
                    clock=clock,
                    markers=MarkerOutlet(f"labmrt-markers-{code}", participant=code),
                    workstation="simulation (real time)",
                    streams=source.stream_info,
                )
                person.request_break = engine.pause
                recorder = SampleRecorder(source.buffers, store, engine.session_id).start()
                cleanup.append(recorder.stop)
                engine.run()
                session_ids.append(engine.session_id)
                truth["participants"][code] = {
                    "session": engine.session_id,
                    "seed": p_seed,
                    "calibration_error": engine.calibration_error,
                    "raw_samples": recorder.n_samples,
                }
            finally:
                for stop in reversed(cleanup):
                    stop()
        decisions = store.decisions()
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=2, default=str), encoding="utf-8")
    return StudyRun(
        study_dir=out,
        truth_path=truth_path,
        participants=codes,
        session_ids=session_ids,
        seconds=time.perf_counter() - started,
        n_decisions=len(decisions),
        n_available=int(decisions["available"].sum()) if len(decisions) else 0,
    )
