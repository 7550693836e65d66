"""The live affect monitor as the session engine's state source, as a protocol asks for it.

The engine (``labmrt.session``) knows only the :class:`labmrt.state.StateSource`
protocol: it asks for the current state and announces the calibration phases
with their times. :class:`MonitorStateSource` passes that on to an
:class:`~sensors.state.monitor.AffectMonitor` and carries the streams it reads
(for the session record and the raw-sample recorder);
:func:`monitor_for_protocol` builds the monitor a protocol's ``[sensors]``
table describes.
"""

from __future__ import annotations

from typing import Any

from sensors.state.classifier import AffectClassifier
from sensors.state.feature_sets import FEATURE_SETS
from sensors.state.monitor import AffectMonitor


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
