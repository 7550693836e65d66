"""The session engine: one participant through one protocol, every fact committed as it happens.

Lifecycle: set-up (the session row, with the protocol text and hash) ->
calibration (rest, then an optional stressor; the presenter and the state
source are told when each phase starts and ends) -> tasks -> end
(``completed``, ``aborted`` with a reason, or stopped by a failure such as a
full disk). The operator may pause (a break) and resume; a break makes the
participant unavailable at the next decision point.

At each task the engine

1. applies the decision rules (is this task a decision point?),
2. reads the affective state and its features (with window bounds) from the
   :class:`~labmrt.state.StateSource` as of that moment,
3. decides availability and records why not (no valid signal, signal quality
   below the threshold, a break, too close to the previous randomized point),
4. draws the framing with the :class:`~labmrt.session.randomizer.MicroRandomizer`,
5. commits the decision (and the state) to the store, and only then
6. hands the framed task to the :class:`Presenter` (the participant screen or a
   simulated participant), which reports every feature-use event through
   :meth:`SessionEngine.record_event` (each committed on arrival) and returns
   the presentation (shown, received, answer) when the task ends,
7. commits the presentation and the proximal outcomes whose windows have
   closed (:mod:`labmrt.session.outcomes`).

So a decision or event is durable before the next task is shown, and a hard
kill loses nothing recorded. An interrupted session is resumed by
:meth:`SessionEngine.resume_interrupted` (a new session row that points to the
old one; the same random stream continues at the next decision point with the
next task) or closed by :func:`close_interrupted`.

The engine is Qt-free and runs on whatever thread calls :meth:`~SessionEngine.run` (the
desktop app uses :meth:`~SessionEngine.start`, which runs it on its own thread);
:meth:`~SessionEngine.pause`, :meth:`~SessionEngine.resume`, :meth:`~SessionEngine.abort` and :meth:`~SessionEngine.record_event` are
thread-safe. Everything it does is announced on ``SessionEngine.signals``
(see :class:`labmrt.session.events.SessionSignals`).
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, runtime_checkable

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol import AFFECT_CONTEXT, Feature, Protocol, Task
from labmrt.session.answers import is_correct
from labmrt.session.clock import Clock, LSLClock
from labmrt.session.events import EngineSignals
from labmrt.session.outcomes import FeatureEvent, as_events, compute_outcomes, outcome_window
from labmrt.session.randomizer import MicroRandomizer
from labmrt.state import AffectState, StateSource

log = logging.getLogger(__name__)

#: Presentation rows of tasks that are not decision points carry this decision_point.
NOT_A_DECISION_POINT = -1

#: Reasons recorded in ``unavailable_reason`` (several are joined with "; ").
REASON_NO_SIGNAL = "no valid signal"
REASON_QUALITY = "signal quality below threshold"
REASON_BREAK = "break"
REASON_SPACING = "min spacing"

#: Phases the state source is told about (it calibrates on them).
CALIBRATION_PHASES = ("rest", "stressor")

EventReporter = Callable[..., None]


# --------------------------------------------------------------------------- what is presented
@dataclass(frozen=True)
class FramedTask:
    """One task as the participant sees it, framed by the engine.

    ``arm`` is for simulated participants and the operator's log only; a
    participant screen must never show it. ``decision_point`` is ``None``
    for a task that is not a decision point (it is shown with the baseline
    wording). ``control`` is the per-protocol check (``confirm``, ``dwell``,
    ``none``) with ``min_dwell_s``.
    """

    task_index: int
    task_id: str
    text: str
    arm: str | None
    decision_point: int | None
    number: int  # 1-based position in the session
    total: int
    question: str = ""
    answer_kind: str = "text"
    choices: tuple[str, ...] = ()
    features: tuple[Feature, ...] = ()
    hint: str = ""
    help: str = ""
    table: dict | None = None
    time_limit_s: float | None = None
    difficulty: float | None = None
    control: str = "none"
    min_dwell_s: float = 0.0


@runtime_checkable
class Presenter(typing.Protocol):
    """Whoever shows the session to the participant: the participant screen or a simulation.

    ``present`` blocks until the task ends. While it runs, the presenter
    reports every feature use as ``report(feature, action, t=None, detail="")``
    (``action`` open/close/use, ``t`` on the session clock, ``None`` = now);
    it returns the raw facts of the presentation: ``shown_t``, ``confirmed``,
    ``received_t`` (confirmation time), ``dwell_s`` (when measured),
    ``answer``, ``answer_t``, ``end_t``, ``timed_out``. The engine decides
    ``received`` from these facts and the protocol's control.
    """

    def begin_phase(self, phase: str, duration_s: float | None) -> None: ...

    def end_phase(self, phase: str) -> None: ...

    def present(self, task: FramedTask, report: EventReporter) -> Mapping[str, Any]: ...

    def end_session(self, status: str, reason: str) -> None: ...


def framed_task(
    protocol: Protocol,
    task_index: int,
    arm: str | None,
    decision_point: int | None,
) -> FramedTask:
    """The task ``task_index`` worded for ``arm`` (the baseline arm when ``arm`` is None)."""
    task: Task = protocol.tasks[task_index]
    arm_id = arm if arm is not None else protocol.baseline_arm.id
    control = protocol.control
    return FramedTask(
        task_index=task_index,
        task_id=task.id,
        text=protocol.framed_text(task, arm_id),
        arm=arm,
        decision_point=decision_point,
        number=task_index + 1,
        total=len(protocol.tasks),
        question=task.question,
        answer_kind=task.answer_kind,
        choices=tuple(task.choices),
        features=tuple(protocol.task_features(task)),
        hint=task.hint,
        help=task.help,
        table=None if task.table is None else task.table.model_dump(),
        time_limit_s=task.time_limit_s,
        difficulty=task.difficulty,
        control=control.mode,
        min_dwell_s=control.min_dwell_s,
    )


def receipt(protocol: Protocol, raw: Mapping[str, Any]) -> tuple[bool, float | None, float | None]:
    """``(received, received_t, dwell_s)`` under the protocol's per-protocol control.

    A required confirmation must have been given; a minimum dwell must have
    been reached (the dwell is the presenter's ``dwell_s`` when measured, else
    the time from showing to the confirmation). With neither, a shown task is
    received when shown.
    """
    control = protocol.control
    shown = raw.get("shown_t")
    if shown is None:
        return False, None, None
    confirmed = bool(raw.get("confirmed"))
    confirm_t = raw.get("received_t") if confirmed else None
    dwell = raw.get("dwell_s")
    if dwell is None and confirm_t is not None:
        dwell = float(confirm_t) - float(shown)
    received = True
    if control.require_confirmation:
        received = received and confirmed
    if control.min_dwell_s > 0:
        received = received and dwell is not None and dwell >= control.min_dwell_s
    if not received:
        return False, None, dwell
    if confirm_t is not None:
        received_t = float(confirm_t)
    elif control.min_dwell_s > 0:
        received_t = float(shown) + control.min_dwell_s
    else:
        received_t = float(shown)
    return True, received_t, dwell


# --------------------------------------------------------------------------- resume bookkeeping
@dataclass
class _History:
    """What earlier (interrupted) sessions of the same chain already recorded."""

    stream_session_no: int
    started_t: float
    next_decision_point: int = 0
    next_task_index: int = 0
    events: list[FeatureEvent] = field(default_factory=list)
    last_available_t: float | None = None
    previous: tuple[float, float | None] | None = None  # last decision: (t, its task's end)


def _chain(store: Any, sid: int) -> list[Any]:
    """The session and the sessions it resumed, oldest first."""
    infos = []
    seen: set[int] = set()
    cur: int | None = sid
    while cur is not None and cur not in seen:
        seen.add(cur)
        info = store.session_info(cur)
        infos.append(info)
        cur = info.resume_of
    return infos[::-1]


def _find_interrupted(store: Any, participant: str) -> Any:
    candidates = [s for s in store.interrupted_sessions() if s.participant == participant]
    if not candidates:
        raise LabmrtError(
            Problem(
                f"participant {participant}",
                "has no interrupted session in this study",
                "check the code with `labmrt sessions STUDY_DIR`, or start a new session",
            )
        )
    return candidates[-1]


def _finish_outcomes(store: Any, protocol: Protocol, sid: int, *, observed_until: float) -> int:
    """Record the outcomes still missing for the decision points of session ``sid``.

    A window that closed before ``observed_until`` (the last moment the
    session was known to run) is computed from the recorded events; a window
    still open then gets ``None``: feature use after a kill was not observed.
    Returns the number of decision points completed.
    """
    decisions = store.decisions(sid)
    if decisions.empty or not protocol.outcomes:
        return 0
    done = set(store.outcomes(sid)["decision_point"])
    pres = store.presentations(sid)
    ends = {int(r.decision_point): r.end_t for r in pres.itertuples(index=False)}
    events = as_events(store.events(sid).itertuples(index=False))
    n = 0
    for row in decisions.itertuples(index=False):
        dp = int(row.decision_point)
        if dp in done:
            continue
        end_t = ends.get(dp)
        end_t = None if end_t is None or (isinstance(end_t, float) and math.isnan(end_t)) else end_t
        values: dict[str, float | None] = {}
        for o in protocol.outcomes:
            start, end = outcome_window(o.window, float(row.t), end_t)
            if end is None or end > observed_until:
                values[o.name] = None
            else:
                values[o.name] = compute_outcomes([o], events, float(row.t), end_t)[o.name]
        store.add_outcomes(sid, dp, values)
        n += 1
    return n


def _last_recorded_t(store: Any, sid: int) -> float:
    """The latest timestamp the session recorded (it was running until at least then)."""
    times = [store.session_info(sid).started_t]
    for frame, cols in (
        (store.decisions(sid), ("t",)),
        (store.events(sid), ("t",)),
        (store.presentations(sid), ("shown_t", "end_t")),
        (store.status_history(sid), ("t",)),
    ):
        for col in cols:
            if not frame.empty and frame[col].notna().any():
                times.append(float(frame[col].max()))
    return max(times)


def close_interrupted(
    store: Any, protocol: Protocol, participant: str, *, t: float, reason: str = ""
) -> int:
    """Close the participant's interrupted session as ``incomplete``; returns its id.

    Outcomes still missing are completed from the recorded events where their
    windows closed before the interruption (else recorded as missing).
    """
    info = _find_interrupted(store, participant)
    _check_same_protocol(info, protocol)
    _finish_outcomes(store, protocol, info.id, observed_until=_last_recorded_t(store, info.id))
    store.set_status(info.id, "incomplete", t, reason or "interrupted; closed without resuming")
    return info.id


def _check_same_protocol(info: Any, protocol: Protocol) -> None:
    if info.protocol_hash != protocol.content_hash:
        raise LabmrtError(
            Problem(
                f"session {info.id} of {info.participant}",
                f"was recorded with protocol {info.protocol_hash[:12]}, not "
                f"{protocol.content_hash[:12]} (the file changed since)",
                "resume with the exact protocol file the session started with",
            )
        )


def _unknown_state(t: float, reason: str) -> AffectState:
    return AffectState(t=t, label="unknown", reason=reason)


# --------------------------------------------------------------------------- the engine
class SessionEngine:
    """Runs one session of ``protocol`` for ``participant``; see the module docstring.

    Creating the engine records the session (a participant code already used
    in the study raises a :class:`LabmrtError` that offers resume). Then call
    :meth:`~SessionEngine.run` (blocking) or :meth:`~SessionEngine.start` (own thread).

    ``state_source``: the live monitor, a simulation, or ``None`` (state
    ``unknown``; fine for protocols without sensors). A source with
    ``begin_phase(phase, t)`` / ``end_phase(phase, t)`` methods is told about
    the calibration phases. ``clock``: the LSL clock by default.
    ``markers``: a :class:`labmrt.session.markers.MarkerOutlet` (or ``None``); every
    marker is also copied to the store. ``calibrate``: run the protocol's
    calibration (``None``: yes, also when resuming, since the classifier
    lived in the process that stopped).
    """

    def __init__(
        self,
        protocol: Protocol,
        store: Any,
        participant: str,
        presenter: Presenter,
        *,
        state_source: StateSource | None = None,
        clock: Clock | None = None,
        markers: Any = None,
        workstation: str = "",
        streams: list[dict] | None = None,
        session_no: int | None = None,
        calibrate: bool | None = None,
        _resume_of: Any = None,
    ):
        self.protocol = protocol
        self.store = store
        self.participant = participant
        self.presenter = presenter
        self.state_source = state_source
        self.clock: Clock = clock if clock is not None else LSLClock()
        self.signals = EngineSignals()
        self._calibrate = True if calibrate is None else bool(calibrate)
        self._lock = threading.RLock()
        self._wake = threading.Event()  # set by resume() and abort(): ends a break early
        self._abort_event = threading.Event()  # set by abort(): ends a calibration phase early
        self._abort_reason: str | None = None
        self._pause_request: tuple[str, float | None] | None = None
        self._breaks: list[tuple[float, float]] = []
        self._decided_since_break = True
        self._current: tuple[int | None, int | None] = (None, None)  # (decision point, task)
        self._pending: list[tuple[int, float, float | None]] = []  # (dp, t, task end)
        self.status = "created"
        self.error: LabmrtError | None = None
        self.calibration_error: str | None = None
        # the state source's calibration summary (separation, warnings), once fitted
        self.calibration: dict | None = None
        self.tasks_done = 0
        self._thread: threading.Thread | None = None
        now = self.clock.now()

        decision_tasks = protocol.decision_task_indices()
        self._decision_tasks = set(decision_tasks)
        # fixed by the protocol: worked out once, not at every decision point
        context_names = list(protocol.moderators)
        if protocol.context_variable and protocol.context_variable not in context_names:
            context_names.append(protocol.context_variable)
        self._context_names = tuple(context_names)
        control_names = ["task_index", "difficulty", "time_in_session_s"]
        control_names += [n for n in protocol.controls if n not in control_names]
        control_names += [f"prior_{o.name}" for o in protocol.outcomes]
        self._control_names = tuple(control_names)
        history = None
        if _resume_of is not None:
            history = self._history(_resume_of)
            existing = store.sessions()
            mine = existing[existing["participant"] == participant]
            session_no = int(mine["session_no"].max()) + 1
        self.session_id: int = store.create_session(
            participant,
            protocol,
            workstation=workstation,
            streams=streams,
            session_no=session_no,
            started_t=now,
            resume_of=None if _resume_of is None else _resume_of.id,
        )
        self.session_no = int(store.session_info(self.session_id).session_no)
        self.resumed_from: int | None = None
        if history is None:
            history = _History(stream_session_no=self.session_no, started_t=now)
        else:
            self.resumed_from = _resume_of.id
            # close the interrupted session (and any earlier one a kill left open mid-resume)
            for info in _chain(store, _resume_of.id):
                if info.status in ("created", "running", "paused", "resumed"):
                    store.set_status(
                        info.id,
                        "incomplete",
                        now,
                        f"interrupted; resumed as session {self.session_id}",
                    )
        self._history_info = history
        self.started_t = history.started_t
        self.next_task_index = history.next_task_index
        self.next_decision_point = history.next_decision_point
        self._events: list[FeatureEvent] = list(history.events)
        self._last_available_t = history.last_available_t
        self._previous = history.previous
        self.randomizer = MicroRandomizer(protocol, participant, history.stream_session_no)
        self.randomizer.resume_at(self.next_decision_point)
        self._markers = markers
        self._connect_markers()

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def resume_interrupted(
        cls,
        protocol: Protocol,
        store: Any,
        participant: str,
        presenter: Presenter,
        **kwargs: Any,
    ) -> SessionEngine:
        """Continue the participant's interrupted session: same random stream, next task.

        A new session row records the continuation (``resume_of`` = the old
        session, which is closed as ``incomplete``); decision points keep
        counting where the old session stopped. The task that was running at
        the interruption is not repeated (its decision stays recorded; its
        outcomes are missing unless its window had closed).
        """
        info = _find_interrupted(store, participant)
        _check_same_protocol(info, protocol)
        return cls(protocol, store, participant, presenter, _resume_of=info, **kwargs)

    def _history(self, info: Any) -> _History:
        store, protocol = self.store, self.protocol
        _finish_outcomes(store, protocol, info.id, observed_until=_last_recorded_t(store, info.id))
        chain = _chain(store, info.id)
        hist = _History(stream_session_no=chain[0].session_no, started_t=chain[0].started_t)
        last_dp = -1
        last_task = -1
        for s in chain:
            dec = store.decisions(s.id)
            pres = store.presentations(s.id)
            if not dec.empty:
                last_dp = max(last_dp, int(dec["decision_point"].max()))
                last_task = max(last_task, int(dec["task_index"].max()))
                avail = dec[dec["available"]]
                if not avail.empty:
                    hist.last_available_t = float(avail["t"].max())
            if not pres.empty and pres["task_index"].notna().any():
                last_task = max(last_task, int(pres["task_index"].max()))
            hist.events += as_events(store.events(s.id).itertuples(index=False))
            if not dec.empty:
                last = dec.iloc[-1]
                ends = pres[pres["decision_point"] == last["decision_point"]]["end_t"].dropna()
                hist.previous = (float(last["t"]), float(ends.iloc[-1]) if len(ends) else None)
        hist.next_decision_point = last_dp + 1
        hist.next_task_index = last_task + 1
        hist.events.sort(key=lambda e: e.t)
        return hist

    def _connect_markers(self) -> None:
        from labmrt.session.markers import MarkerRecorder

        self.marker_recorder = MarkerRecorder(
            self.signals,
            self.store,
            self.session_id,
            self.participant,
            outlet=self._markers,
        )

    # ------------------------------------------------------------------ control (thread-safe)
    def start(self) -> threading.Thread:
        """Run the session on its own thread; :attr:`error` holds a failure afterwards."""

        def target() -> None:
            try:
                self.run()
            except LabmrtError:
                pass  # kept in self.error and announced on signals.failed
            except Exception:  # noqa: BLE001 - a thread must not die silently
                log.exception("session %s stopped on an unexpected error", self.session_id)

        self._thread = threading.Thread(
            target=target, name=f"labmrt-session-{self.session_id}", daemon=True
        )
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def pause(self, reason: str = "", duration_s: float | None = None) -> None:
        """Request a break after the running task (``duration_s`` None: until :meth:`~SessionEngine.resume`).

        A task is never cut in the middle; the break starts at the next task
        boundary (immediately when the engine is between tasks).
        """
        with self._lock:
            if self.status in ("completed", "aborted", "failed"):
                return
            self._pause_request = (reason, duration_s)
            if self._abort_reason is None:
                self._wake.clear()

    @property
    def pause_pending(self) -> bool:
        return self._pause_request is not None

    def resume(self) -> None:
        """End the current break (or cancel a requested one)."""
        with self._lock:
            self._pause_request = None
            self._wake.set()

    def abort(self, reason: str) -> None:
        """Stop the session after the running task (or at once during a phase or break)."""
        with self._lock:
            self._abort_reason = reason or "aborted by the operator"
            self._wake.set()
            self._abort_event.set()
        interrupt = getattr(self.presenter, "interrupt", None)
        if callable(interrupt):
            interrupt()

    @property
    def aborted(self) -> bool:
        return self._abort_reason is not None

    def record_event(
        self, feature: str, action: str, t: float | None = None, detail: str = ""
    ) -> dict:
        """Record one feature-use event (committed on return) and announce it; thread-safe."""
        t = float(self.clock.now() if t is None else t)
        with self._lock:
            dp, task_index = self._current
            row = {
                "decision_point": dp,
                "task_index": task_index,
                "t": t,
                "feature": str(feature),
                "action": str(action),
                "detail": detail or "",
            }
            self.store.add_event(self.session_id, row)
            self._events.append(FeatureEvent(t, row["feature"], row["action"]))
        self.signals.feature_used.emit(row)
        return row

    # ------------------------------------------------------------------ the session
    def run(self) -> str:
        """Run the whole session (blocking); returns the final status.

        A :class:`LabmrtError` from the store (e.g. a full disk) stops the
        session safely: it is announced on ``signals.failed``, the presenter is
        told, nothing recorded is touched, and the error is raised again. The
        session then stays open in the study and can be resumed later.
        """
        try:
            self._set_status("resumed" if self.resumed_from is not None else "running")
            if self._calibrate and self.protocol.calibration is not None:
                self._calibration()
            if not self.aborted:
                self._tasks()
            return self._finish()
        except LabmrtError as err:
            self._fail(err)
            raise

    def _calibration(self) -> None:
        cal = self.protocol.calibration
        if cal.rest_s > 0:
            self._phase("rest", cal.rest_s)
        if cal.stressor_s > 0 and not self.aborted:
            self._phase("stressor", cal.stressor_s)
        if not self.aborted and (cal.rest_s > 0 or cal.stressor_s > 0):
            self._fit_source()

    def _phase(
        self, phase: str, duration_s: float | None, wake: threading.Event | None = None
    ) -> tuple[float, float]:
        """Run one timed phase; tells presenter, state source and listeners; records it.

        ``wake`` ends the phase early (abort for calibration; resume or abort for a break).
        """
        wake = wake if wake is not None else self._abort_event
        t0 = self.clock.now()
        self.presenter.begin_phase(phase, duration_s)
        self._tell_source("begin_phase", phase, t0)
        self.signals.phase_started.emit(phase, t0, duration_s)
        if duration_s is None:
            while not wake.wait(0.1):
                pass
        else:
            self.clock.wait(duration_s, wake)
        t1 = self.clock.now()
        self.presenter.end_phase(phase)
        self._tell_source("end_phase", phase, t1)
        self.store.add_phase(self.session_id, phase, t0, t1)
        self.signals.phase_ended.emit(phase, t1)
        return t0, t1

    def _tell_source(self, method: str, phase: str, t: float) -> None:
        """Tell the state source a calibration phase began/ended: ``method(phase, t)``.

        Sources taking fewer arguments (the live monitor's ``begin_phase(name)``
        and ``end_phase()``) get the leading ones. Only calibration phases are told.
        """
        fn = getattr(self.state_source, method, None)
        if not callable(fn) or phase not in CALIBRATION_PHASES:
            return
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            n = 2
        else:
            if any(p.kind is p.VAR_POSITIONAL for p in params):
                n = 2
            else:
                n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        fn(*(phase, t)[:n])

    def _fit_source(self) -> None:
        """After the calibration, let the state source fit its classifier (``fit_calibration``).

        A failed fit (too little clean signal) keeps the state ``unknown``; the
        reason is kept in :attr:`calibration_error` and the session goes on.
        """
        fit = getattr(self.state_source, "fit_calibration", None)
        if not callable(fit):
            return
        try:
            fitted = fit()
        except LabmrtError as err:
            self.calibration_error = err.message
            log.warning("calibration of the state source failed: %s", err.message)
            self._record_calibration({"status": "failed", "error": err.message})
            return
        summary = getattr(fitted, "calibration_summary", None)
        if callable(summary):
            self.calibration = summary()
            status = self.calibration.get("status")
            if status in ("not separated", "rest reference"):
                reasons = [m.get("reason", "") for m in self.calibration["models"].values()]
                self.calibration_error = next((r for r in reasons if r), "no model separated")
                if status == "rest reference":
                    self.calibration_error += "; states from the rest reference only"
            self._record_calibration(self.calibration)

    def _record_calibration(self, summary: dict) -> None:
        """A ``calibration`` marker (stored and on the marker stream) with how well it went."""
        recorder = getattr(self, "marker_recorder", None)
        if recorder is not None:
            recorder.emit(self.clock.now(), "calibration", **summary)

    def _tasks(self) -> None:
        total = len(self.protocol.tasks)
        t0 = self.clock.now()
        self.signals.phase_started.emit("task", t0, None)
        try:
            for task_index in range(self.next_task_index, total):
                self._maybe_break()
                if self.aborted:
                    break
                self._task(task_index)
                self.tasks_done += 1
                self.signals.progress.emit(task_index + 1, total)
                if self.aborted:
                    break
        finally:
            t1 = self.clock.now()
            try:
                self.store.add_phase(self.session_id, "task", t0, t1)
            finally:
                self.signals.phase_ended.emit("task", t1)

    def _maybe_break(self) -> None:
        with self._lock:
            request = self._pause_request
        if request is None or self.aborted:
            return
        reason, duration = request
        t0 = self.clock.now()
        self._set_status("paused", reason, t=t0)
        _, t1 = self._phase("break", duration, self._wake)
        with self._lock:
            self._pause_request = None
            self._breaks.append((t0, t1))
            self._decided_since_break = False
        if not self.aborted:
            self._set_status("resumed", "", t=t1)

    def _task(self, task_index: int) -> None:
        protocol = self.protocol
        dp: int | None = None
        arm: str | None = None
        t = self.clock.now()
        if task_index in self._decision_tasks:
            dp = self.next_decision_point
            decision = self._decide(dp, task_index, t)
            arm = decision["arm"]
            self.next_decision_point += 1
        task = framed_task(protocol, task_index, arm, dp)
        with self._lock:
            self._current = (dp, task_index)
        self.signals.task_shown.emit(task, self.clock.now())
        try:
            raw = dict(self.presenter.present(task, self.record_event) or {})
        finally:
            with self._lock:
                self._current = (None, None)
        presentation = self._presentation(task, raw)
        self.store.add_presentation(self.session_id, presentation)
        self.signals.task_ended.emit(presentation)
        if dp is not None:
            self._pending.append((dp, t, presentation["end_t"]))
            self._previous = (t, presentation["end_t"])
        self._record_due_outcomes(self.clock.now())

    # ------------------------------------------------------------------ a decision point
    def _read_state(self, t: float) -> AffectState:
        if self.state_source is None:
            return _unknown_state(t, "no state source")
        try:
            state = self.state_source.current_state()
        except Exception as err:  # noqa: BLE001 - a sensor fault makes the state unknown
            log.exception("state source failed")
            return _unknown_state(t, f"state source failed: {err}")
        return state if isinstance(state, AffectState) else _unknown_state(t, "no state")

    def unavailable_reasons(self, t: float, state: AffectState) -> list[str]:
        """Why the participant is unavailable at ``t`` with ``state`` (empty: available)."""
        rules = self.protocol.decision_rules
        reasons = []
        if rules.require_signal and not state.signal_valid:
            reasons.append(REASON_NO_SIGNAL + (f" ({state.reason})" if state.reason else ""))
        if rules.min_quality is not None and state.signal_valid:
            q = state.min_quality
            if q is None or q < rules.min_quality:
                reasons.append(f"{REASON_QUALITY} ({q:.2f} < {rules.min_quality:g})")
        if rules.break_unavailable and self._breaks:
            settle = self.protocol.sensors.window_s if self.protocol.sensors else 0.0
            last_end = self._breaks[-1][1]
            if not self._decided_since_break or t - last_end < settle:
                reasons.append(REASON_BREAK)
        if rules.min_spacing_s > 0 and self._last_available_t is not None:
            gap = t - self._last_available_t
            if gap < rules.min_spacing_s:
                reasons.append(f"{REASON_SPACING} ({gap:.1f} s < {rules.min_spacing_s:g} s)")
        return reasons

    def variables(self, t: float, task_index: int, state: AffectState) -> dict[str, Any]:
        """Every moderator/control value known at a decision point, by name."""
        task = self.protocol.tasks[task_index]
        values: dict[str, Any] = {
            AFFECT_CONTEXT: state.label,
            "p_aroused": state.p_aroused,
            "task_index": task_index,
            "difficulty": task.difficulty,
            "time_in_session_s": t - self.started_t,
        }
        values.update(state.features)
        values.update({f"quality_{k}": v for k, v in state.quality.items()})
        values.update(self.prior_outcomes(t))
        return values

    def prior_outcomes(self, now: float) -> dict[str, float | None]:
        """``prior_<outcome>``: each outcome at the previous decision point, once its window
        has closed (``None`` while open; 0 before the first decision point: nothing was used)."""
        if self._previous is None:
            return {f"prior_{o.name}": 0.0 for o in self.protocol.outcomes}
        t_prev, end_prev = self._previous
        values: dict[str, float | None] = {}
        for o in self.protocol.outcomes:
            end = outcome_window(o.window, t_prev, end_prev)[1]
            values[f"prior_{o.name}"] = (
                None
                if end is None or end > now
                else compute_outcomes([o], self._events, t_prev, end_prev)[o.name]
            )
        return values

    def _decide(self, dp: int, task_index: int, t: float) -> dict:
        protocol = self.protocol
        state = self._read_state(t)
        self.signals.state_read.emit(state)
        reasons = self.unavailable_reasons(t, state)
        values = self.variables(t, task_index, state)
        context = {name: values.get(name) for name in self._context_names}
        decision = self.randomizer.draw(dp, context, available=not reasons)
        row = {
            "decision_point": dp,
            "task_index": task_index,
            "task_id": protocol.tasks[task_index].id,
            "t": t,
            "available": decision.available,
            "unavailable_reason": "; ".join(reasons),
            "arm": decision.arm,
            "probabilities": dict(decision.probabilities),
            "context": dict(decision.context),
            "uniform": decision.u,
            "protocol_hash": decision.protocol_hash,
            "state": state.label,
            "p_aroused": state.p_aroused,
            "features": dict(state.features),
            "windows": {k: list(v) for k, v in state.windows.items()},
            "quality": dict(state.quality),
            "controls": {name: values.get(name) for name in self._control_names},
        }
        self.store.add_decision(self.session_id, row)
        self.store.add_state(
            self.session_id,
            {
                "t": state.t,
                "label": state.label,
                "p_aroused": state.p_aroused,
                "features": dict(state.features),
                "quality": dict(state.quality),
                "windows": {k: list(v) for k, v in state.windows.items()},
                "reason": state.reason,
            },
        )
        with self._lock:
            self._decided_since_break = True
            if decision.available:
                self._last_available_t = t
        self.signals.decision_made.emit(row)
        return row

    def _presentation(self, task: FramedTask, raw: Mapping[str, Any]) -> dict:
        received, received_t, dwell = receipt(self.protocol, raw)
        answer = raw.get("answer")
        answer = None if answer is None else str(answer)
        end_t = raw.get("end_t")
        return {
            "decision_point": (
                task.decision_point if task.decision_point is not None else NOT_A_DECISION_POINT
            ),
            "task_index": task.task_index,
            "task_id": task.task_id,
            "shown_t": raw.get("shown_t"),
            "received": received,
            "received_t": received_t,
            "dwell_s": dwell,
            "confirmed": bool(raw.get("confirmed")),
            "answer": answer,
            "answer_t": raw.get("answer_t"),
            "correct": is_correct(self.protocol.tasks[task.task_index], answer),
            "end_t": float(end_t) if end_t is not None else self.clock.now(),
        }

    # ------------------------------------------------------------------ outcomes
    def _record_due_outcomes(self, now: float, *, final: bool = False) -> None:
        """Commit the outcomes of decision points whose every window has closed by ``now``."""
        outcomes = self.protocol.outcomes
        keep = []
        for dp, t, end_t in self._pending:
            ends = [outcome_window(o.window, t, end_t)[1] for o in outcomes]
            if not final and any(e is None or e > now for e in ends):
                keep.append((dp, t, end_t))
                continue
            values: dict[str, float | None] = {}
            for o, end in zip(outcomes, ends, strict=True):
                if end is None or end > now:
                    values[o.name] = None  # aborted before the window closed
                else:
                    values[o.name] = compute_outcomes([o], self._events, t, end_t)[o.name]
            if outcomes:
                self.store.add_outcomes(self.session_id, dp, values)
            self.signals.outcomes_recorded.emit(dp, values)
        self._pending = keep

    # ------------------------------------------------------------------ ending
    def _set_status(self, status: str, reason: str = "", *, t: float | None = None) -> None:
        t = self.clock.now() if t is None else t
        self.store.set_status(self.session_id, status, t, reason)
        self.status = status
        self.signals.status_changed.emit(status, t, reason)

    def _finish(self) -> str:
        now = self.clock.now()
        if self.aborted:
            # windows still open at an abort were not observed to their end
            self._record_due_outcomes(now, final=True)
            status, reason = "aborted", self._abort_reason or ""
        else:
            # after the last task no feature can be used: every window is complete
            self._record_due_outcomes(math.inf, final=True)
            status, reason = "completed", ""
        self._set_status(status, reason, t=now)
        self.presenter.end_session(status, reason)
        self.signals.ended.emit(status, reason)
        return status

    def _fail(self, err: LabmrtError) -> None:
        self.error = err
        self.status = "failed"
        message = err.message
        log.error("session %s stopped: %s", self.session_id, message)
        self.signals.failed.emit(message)
        try:
            self.presenter.end_session("failed", message)
        except Exception:  # noqa: BLE001 - the failure is already being reported
            log.exception("presenter could not show the failure")
        self.signals.ended.emit("failed", message)
