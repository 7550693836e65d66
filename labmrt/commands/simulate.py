"""``labmrt simulate PROTOCOL --participants N --out STUDY_DIR``: a simulated study, known truth.

Runs N complete sessions through the real session engine and store, with
simulated participants whose feature use depends on framing x affective
state by a known effect model (``--effects FILE``, TOML; defaults derived from
the protocol), on a virtual clock (seconds for a whole study). The truth is
written to ``STUDY_DIR/truth.json``. ``--realtime`` runs each session in real
time with simulated ECG/EDA LSL outlets and the live affect monitor instead.
Then ``labmrt export STUDY_DIR`` and ``labmrt analyze`` recover the effects.
"""

from __future__ import annotations

import argparse
import json
import sys

EPILOG = """\
examples:
  labmrt simulate protocols/framing_affect.toml --participants 40 --seed 1 --out studies/sim40
  labmrt simulate protocols/framing_affect.toml --participants 20 --effects my_effects.toml --out studies/sim
  labmrt simulate protocols/framing_affect.toml --participants 1 --realtime --out studies/live-sim
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a whole study with known effects (fast, through the real engine and store)",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("protocol", metavar="PROTOCOL", help="protocol file (TOML)")
    parser.add_argument("--participants", type=int, required=True, metavar="N")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    parser.add_argument(
        "--effects",
        metavar="FILE",
        help="effects file (TOML, the format labmrt power --simulate reads)",
    )
    parser.add_argument("--out", required=True, metavar="STUDY_DIR", help="new study folder")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="real time, simulated LSL sensors and the live monitor (one session after another)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_run)


def schedule_factory(seed: int, duration_s: float, mean_segment_s: float):
    from sensors.simulate import ArousalSchedule

    return ArousalSchedule.random(seed, duration_s, mean_segment_s)


def _run(args: argparse.Namespace) -> int:
    from labmrt.errors import LabmrtError, Problem
    from labmrt.protocol import load_protocol
    from labmrt.simulate import simulate_study

    protocol = load_protocol(args.protocol)
    if args.participants < 1:
        raise LabmrtError(Problem("--participants", f"is {args.participants}", "give N >= 1"))
    if args.realtime:
        from labmrt.commands.realtime import simulate_realtime

        run = simulate_realtime(protocol, args.out, args.participants, args.seed, args.effects)
    else:

        def progress(done: int, total: int, code: str) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{done}/{total} sessions", end="", file=sys.stderr, flush=True)

        run = simulate_study(
            protocol,
            args.out,
            args.participants,
            schedule_factory=schedule_factory,
            seed=args.seed,
            effects=args.effects,
            progress=progress,
        )
        if not args.json and sys.stderr.isatty():
            print(file=sys.stderr)
    result = {
        "study_dir": str(run.study_dir),
        "truth": str(run.truth_path),
        "participants": len(run.participants),
        "decision_points": run.n_decisions,
        "available": run.n_available,
        "seconds": round(run.seconds, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    share = run.n_available / run.n_decisions if run.n_decisions else 0.0
    print(
        f"simulated {len(run.participants)} sessions, {run.n_decisions} decision points "
        f"({share:.0%} available) in {run.seconds:.1f} s into {run.study_dir}\n"
        f"  truth: {run.truth_path}\n"
        f"  next:  labmrt export {run.study_dir}"
    )
    return 0
