"""Live affective state from LSL streams: buffers -> features -> classifier, once a second.

:class:`AffectMonitor` is the :class:`labmrt.state.StateSource` the session
engine and the desktop app read. It owns one background thread that, every
``update_interval_s``, copies each stream's window out of its
:class:`~sensors.acquire.buffer.StreamBuffer`, runs the
:class:`~sensors.signals.pipeline.FeaturePipeline` and the
:class:`~sensors.state.classifier.AffectClassifier`, publishes the resulting
:class:`~labmrt.state.AffectState` and calls the ``on_update`` listeners (on
that thread: GUI code must hop to its own thread with a queued signal).
:meth:`AffectMonitor.current_state` never blocks on the network or on NeuroKit2.

The state is ``unknown`` with a reason whenever the answer could be wrong:
no calibration yet, a stream lost, invalid (wrong channel count, absurd
rate) or silent for more than :data:`STALE_S`, missing samples (NaN), too
little clean signal for a feature, or quality below the classifier's
``min_quality``.

Calibration: the protocol tells the monitor when rest and stressor happen,
either with :meth:`AffectMonitor.begin_phase` / :meth:`AffectMonitor.end_phase`
around each phase and :meth:`AffectMonitor.fit_calibration` after them, or
with the blocking :meth:`AffectMonitor.calibrate`; the phases are collected and
fitted by :mod:`sensors.state.calibration`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pylsl

from labmrt.errors import LabmrtError
from labmrt.state import AffectState
from sensors.acquire import IRREGULAR_LOST_S, StreamBuffer, StreamDescription, build_buffers
from sensors.kinds import SignalWindow
from sensors.signals import FeaturePipeline, UpdateResult
from sensors.state.calibration import PHASES, CalibrationPhase, fit_rows
from sensors.state.classifier import AffectClassifier
from sensors.state.feature_sets import LIVE_FEATURES

log = logging.getLogger(__name__)

#: Seconds without a new sample after which a stream's state is unknown.
STALE_S = 2.0


class AffectMonitor:
    """Affective state from live ECG/PPG/EDA streams; implements ``StateSource``.

    ``sources``: :class:`StreamBuffer` objects (used as they are; connected
    ones stay connected) and/or :class:`StreamDescription` objects (the
    monitor opens, and at :meth:`stop` closes, a buffer for each chosen
    channel). One channel per kind is used, chosen by the streams' channel
    metadata (:mod:`sensors.acquire.channels`; its ``channels`` say which and why);
    ``pins`` (the protocol's ``[sensors.pins]``) name it instead. ``classifier``: a fitted
    or loaded :class:`AffectClassifier`; without one, a fresh one waits for
    the calibration.
    """

    def __init__(
        self,
        sources: Iterable[StreamBuffer | StreamDescription],
        classifier: AffectClassifier | None = None,
        update_interval_s: float = 1.0,
        *,
        hrv_window_s: float = 60.0,
        eda_window_s: float = 30.0,
        pipeline: FeaturePipeline | None = None,
        pins: Mapping[str, Any] | None = None,
    ):
        if update_interval_s <= 0:
            raise ValueError("update_interval_s must be positive")
        self.classifier = classifier or AffectClassifier(features=LIVE_FEATURES)
        self._offline_model = classifier is not None and classifier.method is not None
        self.update_interval_s = float(update_interval_s)
        self.pipeline = pipeline or FeaturePipeline(
            hrv_window_s=hrv_window_s,
            eda_window_s=eda_window_s,
            min_quality=self.classifier.min_quality,
        )
        # which channel of which stream feeds each kind: sensors.acquire.channels
        self.buffers: dict[str, StreamBuffer]
        self.buffers, self._owned, self.ignored, self.channels = build_buffers(
            sources, self.pipeline.window_needed_s + 5.0, pins
        )
        self._state = AffectState(t=pylsl.local_clock(), reason="monitor not started")
        self._listeners: list[Callable[[AffectState], None]] = []
        self._phases: dict[str, CalibrationPhase] = {}
        self._phase: CalibrationPhase | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.latencies: deque[float] = deque(maxlen=10_000)
        self.update_costs: deque[float] = deque(maxlen=10_000)  # CPU s of this thread
        self.update_walls: deque[float] = deque(maxlen=10_000)  # wall s per update
        self.last_result: UpdateResult | None = None
        self.calibration_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, connect_timeout: float = 2.0) -> AffectMonitor:
        """Connect owned buffers and start the update thread (returns at once)."""
        if self._thread is not None:
            raise RuntimeError("the monitor is already running")
        for buf in self._owned:
            if buf.state == "disconnected":
                buf.connect(timeout=connect_timeout)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="affect-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        for buf in self._owned:
            buf.disconnect()

    def __enter__(self) -> AffectMonitor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ StateSource
    def current_state(self) -> AffectState:
        """The latest state (never blocks)."""
        return self._state

    def on_update(self, callback: Callable[[AffectState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` after every update (on the monitor thread); returns unsubscribe."""
        self._listeners = [*self._listeners, callback]

        def unsubscribe() -> None:
            self._listeners = [c for c in self._listeners if c is not callback]

        return unsubscribe

    # ------------------------------------------------------------------ updates
    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                self.update()
            except Exception as err:  # noqa: BLE001 - report as unknown, keep running
                log.exception("affect update failed")
                self._publish(
                    AffectState(
                        t=pylsl.local_clock(), reason=f"update failed: {type(err).__name__}: {err}"
                    )
                )
            next_t += self.update_interval_s
            delay = next_t - time.monotonic()
            if delay < 0:  # fell behind: skip, do not bunch up
                next_t, delay = time.monotonic(), 0.0
            self._stop.wait(delay)

    def update(self) -> AffectState:
        """Compute one state now from the buffers (the thread calls this; tests may too)."""
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        now = pylsl.local_clock()
        signals, problems, quality0 = {}, [], {}
        for kind, buf in self.buffers.items():
            if buf.state == "invalid":
                problems.append(f"{kind.upper()} stream unusable: {buf.problem}")
                quality0[kind] = 0.0
                continue
            if buf.state != "streaming":
                problems.append(f"{kind.upper()} stream {buf.state}")
                quality0[kind] = 0.0
                self.pipeline.reset(kind)
                continue
            data, ts = buf.get_data(self.pipeline.window_needed_s)
            # one sample per beat (or per second) may lawfully be older than STALE_S
            stale = max(STALE_S, 2.5 / buf.sfreq) if buf.sfreq > 0 else IRREGULAR_LOST_S
            if len(ts) == 0 or now - ts[-1] > stale:
                problems.append(f"{kind.upper()} stream silent")
                quality0[kind] = 0.0
                continue
            signals[kind] = SignalWindow(data, ts, buf.sfreq)
        if not self.buffers:
            problems.append("no ECG, PPG or EDA stream")
        result = self.pipeline.update(signals) if signals else None
        newest = result.t if result is not None else math.nan
        with self._lock:
            if result is not None and self._phase is not None:
                self._phase.add(now, result)
        state = self.state_for(result, problems=problems, quality=quality0)
        self.last_result = result
        if math.isfinite(newest):
            self.latencies.append(state.t - newest)
        self.update_costs.append(time.thread_time() - cpu0)
        self.update_walls.append(time.perf_counter() - wall0)
        self._publish(state)
        return state

    def state_for(
        self,
        result: UpdateResult | None,
        t: float | None = None,
        problems: Iterable[str] = (),
        quality: dict[str, float] | None = None,
    ) -> AffectState:
        """The state one pipeline result gives under the current classifier.

        The live :meth:`update` and the offline replay (:mod:`sensors.replay`)
        both build their states here, so a recording replayed offline is
        classified and explained exactly as it would have been live. ``t``:
        the state's time (default: the LSL clock now); ``problems`` and
        ``quality`` add stream problems found before the pipeline ran.
        """
        features = dict(result.features) if result else {}
        quality = {**(result.quality if result else {}), **(quality or {})}
        windows = dict(result.windows) if result else {}
        reasons = list(problems) + (result.reasons if result else [])
        pred = self.classifier.predict(features, quality)  # one reference: swap-safe
        if pred.reason:  # why unknown, or which features a fallback model left out
            reasons.insert(0, pred.reason)
        return AffectState(
            t=pylsl.local_clock() if t is None else t,
            label=pred.label,  # type: ignore[arg-type]
            p_aroused=pred.p_aroused,
            features=features,
            windows=windows,
            quality=quality,
            reason="; ".join(dict.fromkeys(r for r in reasons if r)),
        )

    def _publish(self, state: AffectState) -> None:
        self._state = state
        for callback in self._listeners:
            try:
                callback(state)
            except Exception:  # noqa: BLE001 - a listener bug must not stop the monitor
                log.exception("affect listener failed")

    # ------------------------------------------------------------------ calibration
    @property
    def phase(self) -> str | None:
        return self._phase.name if self._phase else None

    def begin_phase(self, name: str) -> None:
        """Start collecting calibration windows for ``rest`` or ``stressor``."""
        if name not in PHASES:
            raise ValueError(f"unknown calibration phase {name!r}; use one of {PHASES}")
        with self._lock:
            if self._phase is not None:
                self._phase.end = pylsl.local_clock()
            self._phase = CalibrationPhase(name, pylsl.local_clock())
            self._phases[name] = self._phase

    def end_phase(self) -> None:
        with self._lock:
            if self._phase is not None:
                self._phase.end = pylsl.local_clock()
                self._phase = None

    def calibration_rows(self, name: str) -> list[dict[str, float | None]]:
        """Feature rows of phase ``name`` that calibration would use."""
        phase = self._phases.get(name)
        return phase.feature_rows(self.classifier.min_quality) if phase else []

    def fit_calibration(self) -> AffectClassifier:
        """Fit the classifier on the phases recorded so far (rest needed, stressor optional).

        A loaded offline model keeps its coefficients and only takes the rest
        baseline when it was trained with per-participant standardisation.
        Raises :class:`LabmrtError` (and keeps the state ``unknown``) when the
        rest phase gave too few usable windows.
        """
        self.end_phase()
        try:
            clf = fit_rows(
                self.classifier,
                self._phases.get("rest"),
                self._phases.get("stressor"),
                keep_model=self._offline_model,
            )
        except LabmrtError as err:
            self.calibration_error = err.message
            raise
        self.classifier = clf
        self.calibration_error = None
        return clf

    def calibrate(
        self,
        rest_s: float,
        stress_s: float | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> AffectClassifier:
        """Blocking: rest for ``rest_s`` s, then stressor for ``stress_s`` s, then fit."""
        for name, seconds in (("rest", rest_s), ("stressor", stress_s)):
            if not seconds:
                continue
            self.begin_phase(name)
            end = time.monotonic() + float(seconds)
            while (left := end - time.monotonic()) > 0:
                if progress is not None:
                    progress(name, left)
                if self._stop.wait(min(1.0, left)):
                    break
        return self.fit_calibration()

    # ------------------------------------------------------------------ diagnostics
    def status(self) -> dict[str, object]:
        """JSON-ready: the streams, calibration and the classifier's state."""
        return {
            "streams": {k: b.status() for k, b in self.buffers.items()},
            "channels": [c.as_row() for c in self.channels],
            "ignored": self.ignored,
            "calibrated": self.classifier.is_calibrated,
            "method": self.classifier.method,
            "features": list(self.classifier.used_features),
            "calibration_error": self.calibration_error,
            "calibration": self.classifier.calibration_summary()
            if self.classifier.is_calibrated
            else None,
        }
