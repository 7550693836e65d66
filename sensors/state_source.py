"""The live affect monitor as the session engine's state source, and a simulated one to try it.

The engine (``labmrt.session``) knows only the :class:`labmrt.state.StateSource`
protocol: it asks for the current state and announces the calibration phases
with their times. :class:`MonitorStateSource` passes that on to an
:class:`~sensors.monitor.AffectMonitor` and carries the streams it reads (for
the session record and the raw-sample recorder). :func:`live_state_source`
builds the whole chain on simulated LSL sensors whose arousal script follows
the protocol's calibration (``labmrt run --simulated-sensors``,
``labmrt simulate --realtime``).
"""

from __future__ import annotations

from typing import Any

from labmrt.errors import LabmrtError, Problem


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


def calibration_schedule(protocol: Any, seed: int, mean_segment_s: float, lead_s: float = 5.0):
    """Calm through the rest, aroused through the stressor, then a random script.

    So the monitor calibrates on what it should: the simulated participant's
    arousal is placed where the protocol has its calibration phases.
    """
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


def monitor_for_protocol(descriptions: list, protocol: Any, *, use_pins: bool = True):
    """The affect monitor a protocol asks for (not started).

    The protocol's ``[sensors]`` table sets the EDA window, the live feature
    set (``state_features``), what a calibration that does not separate gives
    (``not_separated``) and the classifier:
    ``classifier = "calibration"`` fits a per-participant model on the
    calibration phases; a path names a model trained offline with
    ``labmrt sensors train`` (the protocol loader has checked that it exists;
    it is part of the content hash), loaded here so that an unreadable file
    stops the set-up with a clear message instead of mid-session. Its
    ``pins`` name the stream and channel of a kind (checked here against
    ``descriptions``: a missing stream, channel or bad unit stops the set-up
    with a message naming the pin); ``use_pins=False`` ignores them
    (simulated sensors, whose names are not the lab's).
    """
    from sensors.classifier import FEATURE_SETS, AffectClassifier
    from sensors.monitor import AffectMonitor

    settings = getattr(protocol, "sensors", None)
    window = settings.window_s if settings is not None else 30.0
    model_path = protocol.classifier_path() if protocol is not None else None
    classifier = None
    if model_path is not None:
        classifier = AffectClassifier.load(model_path)
    elif settings is not None:
        classifier = AffectClassifier(
            features=FEATURE_SETS[settings.state_features],
            not_separated=settings.not_separated,
        )
    pins = dict(settings.pins) if settings is not None and use_pins else None
    return AffectMonitor(descriptions, classifier=classifier, eda_window_s=window, pins=pins)


def live_state_source(protocol: Any, clock: Any, seed: int, cleanup: list, *, mean_segment_s=150.0):
    """Start simulated LSL sources and the monitor; returns (state source, truth function).

    Every started part appends its stop function to ``cleanup`` (call them in
    reverse order when the session ends).
    """
    import pylsl

    from sensors.discovery import StreamDescription
    from sensors.simulate import SimulatedSensors

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
        from sensors.layouts import LayoutSensors

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
