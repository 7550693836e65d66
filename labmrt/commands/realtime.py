"""``labmrt simulate --realtime``: whole simulated sessions in real time, through the live chain.

Each simulated participant gets simulated LSL sensors, the live monitor as
the engine's state source (:func:`sensors.live.simulated.live_state_source`) and
a raw-sample recorder (:class:`sensors.acquire.recorder.SampleRecorder`), so a study
folder made this way exercises everything a lab session does. The sensors are
imported inside the function: the domain core stays free of them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from labmrt.errors import LabmrtError, Problem


def simulate_realtime(
    protocol: Any, out: str | Path, n_participants: int, seed: int, effects: str | None
):
    """``labmrt simulate --realtime``: sessions one after another, in real time."""
    from labmrt.session import SessionEngine
    from labmrt.session.clock import LSLClock
    from labmrt.session.markers import MarkerOutlet
    from labmrt.simulate import (
        SimulatedParticipant,
        StudyRun,
        load_effect_model,
        participant_codes,
    )
    from labmrt.store import DB_NAME, StudyStore
    from sensors.acquire import SampleRecorder
    from sensors.live import live_state_source

    out = Path(out)
    if (out / DB_NAME).exists():
        raise LabmrtError(
            Problem(str(out), "already holds a study database", "simulate into a new folder")
        )
    model, doc = load_effect_model(effects, protocol)
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
