"""``labmrt run PROTOCOL --study DIR --participant CODE``: one session, headless.

Who takes part:

* default: a person at this terminal (console prompts: the framed task is
  printed, the participant types ``read``, ``open help``, ``close help``,
  ``use calculator``, ``answer ...``); real time on the LSL clock.
* ``--simulated``: a simulated participant (the effect model of
  ``labmrt simulate``, ``--effects FILE``), on a virtual clock (instant), or
  paced ``--time-scale X`` times faster than real time (the session then
  really runs and can be paused, interrupted or killed).

Where the affective state comes from:

* ``--simulated-sensors``: simulated ECG/EDA LSL outlets and the live
  monitor, in real time (the calibration phases train the classifier);
* with ``--simulated`` otherwise: the participant's scripted state with
  dropouts (as in ``labmrt simulate``);
* else none: the state is ``unknown`` (protocols that require a signal then
  record every decision point as unavailable).

``--resume`` continues the participant's interrupted session (same random
stream, next task); ``--close-incomplete`` closes it instead.
``--print-commits`` prints one JSON line per committed decision, event and
presentation (for tools and the kill test).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  labmrt run protocols/framing_affect.toml --study studies/framing --participant P01
  labmrt run protocols/framing_affect.toml --study studies/sim --participant P02 --simulated
  labmrt run protocols/framing_affect.toml --study studies/sim --participant P02 --resume --simulated
  labmrt run protocols/framing_affect.toml --study studies/sim --participant P03 --close-incomplete
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one session headless (console participant or simulated participant)",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("protocol", metavar="PROTOCOL", help="protocol file (TOML)")
    parser.add_argument("--study", required=True, metavar="DIR", help="study folder")
    parser.add_argument("--participant", required=True, metavar="CODE", help="participant code")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="resume the interrupted session")
    group.add_argument(
        "--close-incomplete",
        metavar="REASON",
        nargs="?",
        const="closed without resuming",
        help="close the interrupted session as incomplete",
    )
    parser.add_argument("--simulated", action="store_true", help="a simulated participant")
    parser.add_argument(
        "--simulated-sensors",
        action="store_true",
        help="simulated ECG/EDA LSL sources + live monitor (real time)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="with --simulated: run X times faster than real time (default: instantly)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated participant")
    parser.add_argument("--effects", metavar="FILE", help="effects file of the simulation")
    parser.add_argument("--workstation", default="", help="workstation id stored with the session")
    parser.add_argument("--no-markers", action="store_true", help="no LSL marker outlet")
    parser.add_argument(
        "--labrecorder",
        metavar="HOST:PORT",
        help="start and stop LabRecorder (remote control) with the session; default: the "
        "protocol's [recording] labrecorder",
    )
    parser.add_argument(
        "--print-commits", action="store_true", help="print a JSON line per committed record"
    )
    parser.set_defaults(handler=_run)


# --------------------------------------------------------------------------- console participant
CONSOLE_HELP = (
    """commands: read | open FEATURE | close FEATURE | use FEATURE | answer TEXT | features"""
)


class ConsolePresenter:
    """A participant at the terminal (see the module docstring)."""

    def __init__(self, clock: Any, stdin=None, stdout=None):
        self.clock = clock
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    def _say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def begin_phase(self, phase: str, duration_s: float | None) -> None:
        what = {
            "rest": "Calibration: please sit still and relax",
            "stressor": "Calibration: count backwards from 1022 in steps of 13, aloud",
            "break": "Break",
        }.get(phase, phase)
        length = "until resumed" if duration_s is None else f"{duration_s:g} s"
        self._say(f"\n== {what} ({length}) ==")

    def end_phase(self, phase: str) -> None:
        self._say(f"== end of {phase} ==")

    def end_session(self, status: str, reason: str) -> None:
        self._say(f"\n== session {status}{': ' + reason if reason else ''} ==")

    def present(self, task: Any, report: Any) -> dict[str, Any]:
        shown = self.clock.now()
        self._say(f"\n--- Task {task.number} of {task.total} ---\n{task.text}")
        if task.question:
            self._say(task.question)
        if task.choices:
            self._say("choices: " + " | ".join(task.choices))
        features = {f.id for f in task.features}
        self._say("features: " + ", ".join(sorted(features)) + "\n" + CONSOLE_HELP)
        confirmed_t = None
        open_now: set[str] = set()
        while True:
            self.stdout.write("> ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line:  # end of input: the task ends unanswered
                answer = None
                break
            cmd, _, rest = line.strip().partition(" ")
            rest = rest.strip()
            if cmd == "read":
                confirmed_t = confirmed_t or self.clock.now()
            elif cmd in ("open", "close", "use") and rest in features:
                if cmd == "open":
                    open_now.add(rest)
                elif cmd == "close":
                    open_now.discard(rest)
                report(rest, cmd, self.clock.now(), "")
            elif cmd == "answer" and rest:
                answer = rest
                break
            elif cmd == "features":
                self._say(", ".join(sorted(features)))
            else:
                self._say(CONSOLE_HELP)
        end = self.clock.now()
        for fid in sorted(open_now):
            report(fid, "close", end, json.dumps({"reason": "task_end"}))
        return {
            "shown_t": shown,
            "confirmed": confirmed_t is not None,
            "received_t": confirmed_t,
            "answer": answer,
            "answer_t": end if answer is not None else None,
            "end_t": end,
        }


# --------------------------------------------------------------------------- wiring
def _origin(store: Any, participant: str) -> float:
    """Start of a simulated clock: now, and after anything the participant already recorded."""
    from pylsl import local_clock

    from labmrt.session.engine import _last_recorded_t

    start = float(local_clock())
    table = store.sessions()
    for sid in table[table["participant"] == participant]["session"]:
        start = max(start, _last_recorded_t(store, int(sid)) + 1.0)
    return start


def _committed_printer(engine: Any) -> None:
    closed = []

    def out(kind: str, **fields: Any) -> None:
        if closed:
            return
        line = json.dumps({"committed": kind, "session": engine.session_id, **fields})
        try:
            print(line, flush=True)
        except (BrokenPipeError, ValueError):  # the reader went away: the session goes on
            closed.append(True)

    engine.signals.decision_made.connect(
        lambda r: out(
            "decision",
            decision_point=r["decision_point"],
            task_index=r["task_index"],
            t=r["t"],
            available=r["available"],
            arm=r["arm"],
            uniform=r["uniform"],
        )
    )
    engine.signals.feature_used.connect(
        lambda r: out("event", t=r["t"], feature=r["feature"], action=r["action"])
    )
    engine.signals.task_ended.connect(
        lambda r: out("presentation", task_index=r["task_index"], end_t=r["end_t"])
    )


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from labmrt.errors import LabmrtError, Problem
    from labmrt.protocol import load_protocol
    from labmrt.recording import RecorderSettings
    from labmrt.session import SessionEngine, close_interrupted
    from labmrt.session.clock import LSLClock, ScaledClock, VirtualClock
    from labmrt.store import StudyStore, validate_participant_code

    protocol = load_protocol(args.protocol)
    code = validate_participant_code(args.participant, "--participant")
    recorder_settings = RecorderSettings.of(protocol, args.labrecorder or "")
    if args.time_scale is not None and not args.simulated:
        raise LabmrtError(Problem("--time-scale", "needs --simulated", "add --simulated"))
    if args.time_scale is not None and args.time_scale <= 0:
        raise LabmrtError(Problem("--time-scale", f"is {args.time_scale:g}", "use a number > 0"))
    if args.simulated_sensors and args.time_scale is not None:
        raise LabmrtError(
            Problem("--time-scale", "simulated sensors stream in real time", "drop --time-scale")
        )
    with StudyStore.open(args.study, create=True) as store:
        if args.close_incomplete is not None:
            from pylsl import local_clock

            sid = close_interrupted(
                store, protocol, code, t=float(local_clock()), reason=args.close_incomplete
            )
            print(f"session {sid} of {code} closed as incomplete ({args.close_incomplete})")
            return 0
        if args.simulated_sensors:
            clock = LSLClock()
        elif args.simulated and args.time_scale is not None:
            clock = ScaledClock(args.time_scale, start=_origin(store, code))
        elif args.simulated:
            clock = VirtualClock(start=_origin(store, code))
        else:
            clock = LSLClock()
        seed_seq = np.random.SeedSequence([int(args.seed), sum(map(ord, code)), len(code)])
        p_seed = int(seed_seq.generate_state(1)[0]) % (2**31)
        cleanup: list[Any] = []
        try:
            source, truth = _state_source(args, protocol, clock, p_seed, cleanup)
            if args.simulated:
                from labmrt.simulate import SimulatedParticipant, load_effect_model

                model, _ = load_effect_model(args.effects, protocol)
                presenter: Any = SimulatedParticipant(
                    protocol, model, clock, truth, seed=p_seed + int(args.resume)
                )
            else:
                presenter = ConsolePresenter(clock)
            markers = None
            if not args.no_markers and not isinstance(clock, VirtualClock):
                import socket

                from labmrt.session.markers import station_outlet

                station = args.workstation or socket.gethostname()
                markers = station_outlet(station, study=protocol.study.title, participant=code)
            kwargs = dict(
                state_source=source,
                clock=clock,
                markers=markers,
                workstation=args.workstation,
                streams=getattr(source, "stream_info", None),
            )
            if args.resume:
                engine = SessionEngine.resume_interrupted(
                    protocol, store, code, presenter, **kwargs
                )
            else:
                engine = SessionEngine(protocol, store, code, presenter, **kwargs)
            if args.simulated:
                presenter.request_break = engine.pause
            if args.simulated_sensors:
                from sensors.acquire import SampleRecorder

                recorder = SampleRecorder(source.buffers, store, engine.session_id).start()
                cleanup.append(recorder.stop)
            if recorder_settings is not None:
                from labmrt.recording import start_for_session

                cleanup.append(
                    start_for_session(
                        recorder_settings,
                        store,
                        engine,
                        task=Path(args.study).resolve().name,
                        recover=bool(args.resume),
                        alert=lambda text: print(f"warning: {text}", file=sys.stderr, flush=True),
                    ).stop
                )
            if args.print_commits:
                _committed_printer(engine)
            print(
                json.dumps({"started": engine.session_id, "participant": code})
                if args.print_commits
                else f"session {engine.session_id} of {code} started "
                f"(protocol {protocol.short_hash}; from task {engine.next_task_index + 1})",
                flush=True,
            )
            status = engine.run()
        finally:
            for stop in reversed(cleanup):
                stop()
        dec = store.decisions(engine.session_id)
        summary = {
            "session": engine.session_id,
            "participant": code,
            "status": status,
            "decision_points": len(dec),
            "available": int(dec["available"].sum()) if len(dec) else 0,
            "study": str(args.study),
        }
        if args.print_commits:
            print(json.dumps({"finished": summary}), flush=True)
        else:
            print(
                f"session {engine.session_id} {status}: {summary['decision_points']} decision "
                f"points ({summary['available']} available) recorded in {args.study}"
            )
    return 0


def _state_source(args, protocol, clock, seed: int, cleanup: list) -> tuple[Any, Any]:
    """(state source, true-state function) for the chosen mode."""
    from labmrt.simulate import ScriptedStateSource, load_effect_model, random_intervals

    if args.simulated_sensors:
        from sensors.live import live_state_source

        return live_state_source(protocol, clock, seed, cleanup)
    if not args.simulated:
        return None, (lambda t: "calm")
    import numpy as np

    from sensors.simulate import ArousalSchedule

    model, _ = load_effect_model(args.effects, protocol)
    duration = 4 * 3600.0
    script = ArousalSchedule.random(seed, duration, model.mean_state_segment_s)
    rng = np.random.default_rng([seed, 99])
    t0 = clock.now()
    source = ScriptedStateSource(
        script,
        clock,
        t0,
        seed=seed,
        dropouts=random_intervals(rng, model.dropouts_per_hour, model.dropout_s, duration),
        low_quality=random_intervals(rng, model.low_quality_per_hour, (10.0, 40.0), duration),
        window_s=protocol.sensors.window_s if protocol.sensors else 30.0,
    )
    return source, source.true_state
