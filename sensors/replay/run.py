"""Recorded signals through the live pipeline and classifier, one update per second.

Labs check the affective state on pilot data, and the pipeline is measured
on real recordings, by replaying files exactly as the monitor would have seen
them live: :func:`sensors.signals.pipeline.offline_updates` feeds the monitor's own
:class:`~sensors.signals.pipeline.FeaturePipeline` one update per second with the
newest samples; the calibration rows are collected by the monitor's
:class:`~sensors.state.calibration.CalibrationPhase` over a time range of the recording
and fitted by :func:`sensors.state.calibration.fit_rows`; every state is built by
:meth:`sensors.state.monitor.AffectMonitor.state_for`. Nothing here classifies or
extracts features itself, so what a replay shows is what the monitor does.

Time is the recording's own (:mod:`sensors.replay.files`). The pipeline is stateful (its beat
tracker grows a beat list update by update), so one contiguous run covers
``--start`` to ``--end`` and both calibration ranges (its first update
already sees a full history window, as a monitor running for a while would);
only the updates in ``[start, end]`` are returned.

Replayed states use the classifier fitted on the calibration ranges,
wherever those lie in the recording (live, states before the calibration
would be ``unknown``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labmrt.errors import LabmrtError, Problem
from labmrt.state import AffectState
from sensors.kinds import SignalWindow, Span
from sensors.replay.files import Recording
from sensors.replay.spans import EDGE_S, STEP_S, resolve_span
from sensors.signals import FeaturePipeline, UpdateResult, offline_updates
from sensors.state import AffectClassifier, AffectMonitor, CalibrationPhase, fit_rows

PHASE_NAMES: dict[str, str] = {"rest": "--calibrate-rest", "stressor": "--calibrate-stress"}


@dataclass
class ReplayResult:
    """The outcome of :func:`replay_recording`.

    ``states``: one :class:`~labmrt.state.AffectState` per update in
    ``[start, end]``, ``t`` on the recording's time axis; ``results``: the
    pipeline's :class:`~sensors.signals.pipeline.UpdateResult` of each (same order);
    ``phases``: the calibration phases with the updates they collected;
    ``classifier``: the fitted (or loaded) classifier; ``calibration_error``:
    why calibration failed (``strict=False`` only; the states are then
    ``unknown``).
    """

    states: list[AffectState]
    results: list[UpdateResult]
    classifier: AffectClassifier
    phases: dict[str, CalibrationPhase] = field(default_factory=dict)
    calibration_error: str | None = None

    def phase_at(self, t: float) -> str | None:
        """The calibration phase (``rest``/``stressor``) an update time falls in, if any."""
        for name, ph in self.phases.items():
            if ph.start <= t <= (ph.end if ph.end is not None else math.inf):
                return name
        return None


def _as_span(value, option: str) -> Span | None:
    if value is None:
        return None
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise LabmrtError(
            f"expected (start, end) in seconds, got {value!r}", where=option
        ) from None
    return a, b


def replay_recording(
    signals: Mapping[str, SignalWindow] | Recording,
    calibrate_rest: Span | str | None = None,
    calibrate_stress: Span | str | None = None,
    model: AffectClassifier | str | Path | None = None,
    start: float | None = None,
    end: float | None = None,
    *,
    hrv_window_s: float = 60.0,
    eda_window_s: float = 30.0,
    strict: bool = True,
    pipeline: FeaturePipeline | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> ReplayResult:
    """Replay recorded signals as the monitor would run live, and classify every update.

    ``signals``: kind -> ``(values, time stamps, rate)`` (the pipeline's
    input) or a :class:`Recording` (whose markers then also name spans).
    ``calibrate_rest``/``calibrate_stress``: ``(start, end)`` seconds of the
    recording (or marker names). ``model``: a fitted classifier or its file,
    used instead of a calibration (a model standardised per participant
    still takes the rest span as baseline); an unfitted one is calibrated
    (to try other settings than the monitor's default classifier).
    ``start``/``end``: the updates returned (default: the whole recording).
    ``strict``: raise when the calibration fails; otherwise keep the reason
    in ``calibration_error`` and return ``unknown`` states. ``pipeline``:
    another :class:`~sensors.signals.pipeline.FeaturePipeline` than the monitor's
    (then the window arguments are its business). ``progress(t, t_last)``
    is called after each update.
    """
    rec = signals if isinstance(signals, Recording) else Recording(dict(signals))
    if not rec.signals:
        raise LabmrtError("no signal to replay", where="signals")
    first, last = rec.span
    rest = resolve_span(
        calibrate_rest if isinstance(calibrate_rest, str) else _as_span(calibrate_rest, "rest"),
        rec,
        PHASE_NAMES["rest"],
    )
    stress = resolve_span(
        calibrate_stress
        if isinstance(calibrate_stress, str)
        else _as_span(calibrate_stress, "stressor"),
        rec,
        PHASE_NAMES["stressor"],
    )
    if rest is not None and stress is not None and stress[0] < rest[1] and rest[0] < stress[1]:
        raise LabmrtError(
            f"the stressor span {stress[0]:g}:{stress[1]:g} s overlaps the rest span "
            f"{rest[0]:g}:{rest[1]:g} s",
            where=PHASE_NAMES["stressor"],
            fix="give two separate stretches of the recording",
        )
    if isinstance(model, str | Path):
        model = AffectClassifier.load(model)
    fitted_model = model is not None and model.method is not None
    if stress is not None and rest is None and not fitted_model:
        raise LabmrtError(
            "a stressor span needs a rest span too",
            where="--calibrate-stress",
            fix="add --calibrate-rest START:END",
        )
    if fitted_model and model.baseline_source == "participant" and rest is None:
        raise LabmrtError(
            "this model standardises each participant against their own rest: it needs a rest span",
            where="--model",
            fix="add --calibrate-rest START:END",
        )
    t_start = first if start is None else float(start)
    t_end = last if end is None else float(end)
    if not (first - EDGE_S <= t_start < t_end <= last + EDGE_S):
        raise LabmrtError(
            f"start {t_start:g} s and end {t_end:g} s must lie inside the recording "
            f"({first:g} to {last:g} s), start before end",
            where="--start/--end",
        )
    spans = [s for s in (rest, stress) if s is not None]
    t_from = min([t_start, *(s[0] for s in spans)])
    t_to = max([t_end, *(s[1] for s in spans)])

    monitor = AffectMonitor(
        [], model, hrv_window_s=hrv_window_s, eda_window_s=eda_window_s, pipeline=pipeline
    )
    phases = {
        name: CalibrationPhase(name, span[0], span[1])
        for name, span in (("rest", rest), ("stressor", stress))
        if span is not None
    }
    cut = {}
    for kind, (x, ts, fs) in rec.signals.items():
        i1 = int(np.searchsorted(ts, t_to, side="right"))
        cut[kind] = SignalWindow(
            np.asarray(x[:i1], dtype=float), np.asarray(ts[:i1], dtype=float), fs
        )
    cut = {k: v for k, v in cut.items() if len(v[1])}
    results: list[UpdateResult] = []
    first_cut = min(float(ts[0]) for _, ts, _ in cut.values())
    for r in offline_updates(
        cut, monitor.pipeline, STEP_S, start_s=max(t_from - first_cut, STEP_S)
    ):
        results.append(r)
        for ph in phases.values():
            if ph.start <= r.t <= ph.end:
                ph.add(r.t, r)
        if progress is not None:
            progress(r.t, t_to)

    error = None
    if phases:
        try:
            monitor.classifier = fit_rows(
                monitor.classifier,
                phases.get("rest"),
                phases.get("stressor"),
                keep_model=fitted_model,
            )
        except LabmrtError as err:
            error = "; ".join(p.what for p in err.problems)
            if strict:
                spans = ", ".join(
                    f"{PHASE_NAMES[n]} {ph.start:g}:{ph.end:g}" for n, ph in phases.items()
                )
                raise LabmrtError(
                    [Problem(f"calibration ({spans})", p.what, p.fix) for p in err.problems]
                ) from None
    states, kept = [], []
    for r in results:
        state = monitor.state_for(r, t=r.t)
        if t_start - 1e-9 <= r.t <= t_end + 1e-9:
            states.append(state)
            kept.append(r)
    return ReplayResult(states, kept, monitor.classifier, phases, error)
