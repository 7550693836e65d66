"""``labmrt demo``: the whole pipeline on the bundled framing x affect protocol.

With a display it opens the app ready for one session of the short demo
protocol (protocols/demo.toml: 90 s calibration, 8 tasks) on simulated
sensors. Headless it simulates a small study of the full protocol
(protocols/framing_affect.toml; the analysis needs its 30 decision points per
participant) with simulated participants of a known effect model, through the
real session engine and store, exports it, analyzes the loss-vs-baseline and
gain-vs-baseline contrasts of every proximal outcome by affective state with
WCLS, and prints the estimates beside the truth. The study folder lands in the
user's data folder (or ``--out``), so it can be opened, exported and analyzed
again afterwards.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

EPILOG = """\
examples:
  labmrt demo
  labmrt demo --participants 40 --seed 7 --out /tmp/labmrt-demo
  labmrt demo --stations 3
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="open the app ready for a ten-minute demo session (simulated sensors); without "
        "a display: simulate, export and analyze a small study (end to end)",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--participants", type=int, default=24, metavar="N", help="default 24")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="default 1")
    parser.add_argument("--out", metavar="DIR", help="study folder (default: user data folder)")
    parser.add_argument(
        "--protocol",
        metavar="FILE",
        help="another protocol (default: demo.toml in the app, framing_affect.toml headless)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run the simulated study end to end in the terminal instead of opening the app "
        "(the default where there is no display)",
    )
    parser.add_argument(
        "--stations",
        type=int,
        default=0,
        metavar="N",
        help="a lab instead: the console's lab view with N simulated stations on this machine",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=4.0,
        metavar="X",
        help="with --stations: the simulated participants work X times faster (default 4)",
    )
    parser.set_defaults(handler=_run)


def bundled_protocol(name: str = "framing_affect.toml") -> Path:
    """A protocol shipped in protocols/ (default: the full study the headless demo simulates)."""
    import labmrt

    return Path(labmrt.__file__).resolve().parents[1] / "protocols" / name


#: The protocol the app demo runs, one whole session in minutes (the headless demo needs the full study).
APP_DEMO_PROTOCOL = "demo.toml"


def default_out() -> Path:
    from platformdirs import user_data_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(user_data_dir("labmrt", appauthor=False)) / "demo" / f"study-{stamp}"


def _lab_demo(args: argparse.Namespace, protocol: Path, out: Path) -> int:
    """A lab of simulated stations and the console's lab view (see ``labmrt lab``)."""
    from labmrt.commands.lab import open_lab
    from labmrt.errors import LabmrtError, Problem
    from labmrt.lab.study import create_lab_study

    if not 1 <= args.stations <= 16 or args.time_scale <= 0:
        raise LabmrtError(
            Problem(
                "--stations", f"{args.stations} at --time-scale {args.time_scale:g}", "use 1-16"
            )
        )
    study = create_lab_study(out, protocol)
    print(f"labmrt demo: lab study {out} with {args.stations} simulated station(s)", flush=True)
    return open_lab(study, args.stations, args.time_scale, args.headless or args.json)


def _run(args: argparse.Namespace) -> int:
    from labmrt.commands.simulate import schedule_factory
    from labmrt.errors import LabmrtError, Problem
    from labmrt.export import export_study
    from labmrt.protocol import load_protocol
    from labmrt.simulate import compare_with_truth, simulate_study

    def protocol_path(name: str) -> Path:
        path = Path(args.protocol) if args.protocol else bundled_protocol(name)
        if not path.exists():
            raise LabmrtError(
                Problem(str(path), "the demo protocol is missing", "pass --protocol FILE")
            )
        return path

    # The demo fits 2 control + 2 effect coefficients (intercepts and the
    # affect-state dummy) and needs n - p - q >= 1 degrees of freedom.
    if args.participants < 5:
        raise LabmrtError(
            Problem(
                "--participants",
                f"is {args.participants}",
                "the demo's analysis has 4 coefficients and needs at least 5 participants",
            )
        )
    out = Path(args.out) if args.out else default_out()
    if args.stations:
        return _lab_demo(args, protocol_path(APP_DEMO_PROTOCOL), out)
    if not (args.headless or args.json):
        from labmrt.commands.gui import open_demo

        app_protocol = protocol_path(APP_DEMO_PROTOCOL)
        load_protocol(app_protocol)  # a broken file: a clear error here, not in the app
        status = open_demo(app_protocol, out)  # None: no display, run the headless demo
        if status is not None:
            return status
    protocol = load_protocol(protocol_path("framing_affect.toml"))
    t0 = time.perf_counter()
    run = simulate_study(
        protocol, out, args.participants, schedule_factory=schedule_factory, seed=args.seed
    )
    t_sim = time.perf_counter()
    written = export_study(out, None, format="csv", signals=False)
    t_export = time.perf_counter()
    import pandas as pd

    from labmrt.textcols import text_as_objects

    table = text_as_objects(pd.read_csv(written["decision_points"]))
    truth = json.loads(run.truth_path.read_text(encoding="utf-8"))
    results = compare_with_truth(table, truth)
    t_end = time.perf_counter()
    timing = {
        "simulate_s": round(t_sim - t0, 3),
        "export_s": round(t_export - t_sim, 3),
        "analyze_s": round(t_end - t_export, 3),
    }
    if args.json:
        print(
            json.dumps(
                {
                    "study_dir": str(out),
                    "decision_points": str(written["decision_points"]),
                    "truth": str(run.truth_path),
                    "participants": len(run.participants),
                    "n_decisions": run.n_decisions,
                    "n_available": run.n_available,
                    "timing": timing,
                    "results": results.to_dict(orient="records"),
                },
                indent=2,
            )
        )
        return 0
    share = run.n_available / run.n_decisions if run.n_decisions else 0.0
    print(f"labmrt demo: {protocol.study.title} (protocol {protocol.short_hash})")
    print(
        f"  simulated {len(run.participants)} participants x {len(protocol.tasks)} tasks: "
        f"{run.n_decisions} decision points, {share:.0%} available "
        f"({timing['simulate_s']:.1f} s)"
    )
    print(f"  exported to {written['decision_points'].parent} ({timing['export_s']:.1f} s)")
    print(f"  analyzed with WCLS by affective state ({timing['analyze_s']:.1f} s)\n")
    print("Causal excursion effects (intent-to-treat) vs the simulated truth, 95% CI:")
    for outcome, part in results.groupby("outcome", sort=False):
        scale = truth["outcomes"][outcome]["scale"]
        print(f"\n  {outcome}  [{scale}]")
        print(f"    {'contrast':<18} {'state':<8} {'estimate':>9} {'95% CI':>20} {'truth':>7}")
        for r in part.itertuples(index=False):
            ci = f"[{r.ci_lower:+.3f}, {r.ci_upper:+.3f}]"
            mark = "" if r.covered else "  (truth outside the CI)"
            print(
                f"    {r.contrast:<18} {r.state:<8} {r.estimate:>+9.3f} {ci:>20} "
                f"{r.truth:>+7.3f}{mark}"
            )
    covered = int(results["covered"].sum())
    print(
        f"\n{covered} of {len(results)} true effects inside their 95% CI.\n"
        f"Study folder: {out}\n"
        f"  labmrt export {out}\n"
        f"  labmrt analyze {written['decision_points'].parent} --outcome "
        f"{results['outcome'].iloc[0]} --contrast loss-vs-baseline --moderator affect_state "
        "--availability available"
    )
    return 0
