"""The whole live chain on simulated LSL sensors: outlets -> discovery -> monitor -> engine.

``labmrt run --simulated-sensors`` and ``labmrt simulate --realtime`` run a
session on a simulated participant whose arousal script follows the
protocol's calibration (:func:`sensors.simulate.calibration_schedule`), read
through real LSL outlets by the same monitor a lab uses. This is the one
module that composes every stage of ``sensors``.
"""

from __future__ import annotations

from typing import Any

import pylsl

from labmrt.errors import LabmrtError, Problem
from sensors.acquire import StreamDescription
from sensors.simulate import LayoutSensors, SimulatedSensors, calibration_schedule
from sensors.state import MonitorStateSource, monitor_for_protocol


def live_state_source(protocol: Any, clock: Any, seed: int, cleanup: list, *, mean_segment_s=150.0):
    """Start simulated LSL sources and the monitor; returns (state source, truth function).

    Every started part appends its stop function to ``cleanup`` (call them in
    reverse order when the session ends).
    """
    kinds = set(protocol.sensors.streams) if protocol.sensors else {"ecg", "eda"}
    schedule = calibration_schedule(protocol, seed, mean_segment_s)
    if kinds & {"ecg", "ppg"} or not kinds & {"ibi", "hr"}:
        sim = SimulatedSensors(
            seed=seed,
            ecg="ecg" in kinds,
            ppg="ppg" in kinds and "ecg" not in kinds,
            eda="eda" in kinds,
            schedule=schedule,
        )
    else:  # beat-level cardiac source: a strap's RR stream, or a heart rate only
        layout = "rr-gsr" if "ibi" in kinds else "hr-only"
        sim = LayoutSensors(layout, seed=seed, schedule=schedule)
    sim.start()
    cleanup.append(sim.stop)
    descriptions = []
    for row in sim.streams:
        if row["kind"] == "truth":
            continue
        found = pylsl.resolve_byprop("source_id", str(row["source_id"]), 1, 10.0)
        if not found:
            raise LabmrtError(
                Problem(f"simulated stream {row['name']}", "did not appear on the network", "retry")
            )
        descriptions.append(StreamDescription.fetch(found[0]))
    monitor = monitor_for_protocol(descriptions, protocol, use_pins=False).start()
    cleanup.append(monitor.stop)
    return MonitorStateSource(monitor, streams=sim.streams), sim.truth_at
