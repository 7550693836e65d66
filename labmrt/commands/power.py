"""``labmrt power``: participants needed (or power reached) for a planned MRT.

The option names are fixed: lab manuals and scripts rely on them. The study is
given as ``--days D --per-day K`` or, for lab studies, as
``--sessions S --per-session K``; a session then plays the role of a day
(trajectories change from session to session, ``--*-max-day`` is the session
of the turning point). A single-session study whose effect may change from
task to task is entered as ``--sessions T --per-session 1`` (T = tasks).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SHAPES = ("constant", "linear", "quadratic")

EPILOG = """\
examples:
  labmrt power --days 42 --per-day 5 --prob 0.4 \\
      --availability-shape quadratic --availability-mean 0.5 --availability-initial 0.7 \\
      --availability-max-day 42 --effect-shape quadratic --effect-mean 0.1 \\
      --effect-initial 0 --effect-max-day 28
  labmrt power --sessions 4 --per-session 40 --prob 0.5 --availability-shape constant \\
      --availability-mean 0.9 --effect-shape constant --effect-mean 0.1 --n 20 --json

Sessions x decision points per session: a session is the study's "day".

power for the study as designed (simulation through the protocol's randomizer):
  labmrt power --simulate protocols/framing_affect.toml \\
      --effects protocols/framing_affect_effects.toml --n 50:350:50 --trials 1000 --workers 2
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "power",
        help="sample size or power for a micro-randomized trial (Liao et al., 2016)",
        description=(
            "Number of participants for a target power, or the power for a given number "
            "(--n), of the Hotelling-type test of the proximal effect in a micro-randomized "
            "trial (Liao, Klasnja, Tewari & Murphy 2016; the method of MRTSampleSize)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    study = parser.add_argument_group("study length (days x per day, or sessions x per session)")
    study.add_argument("--days", type=int, metavar="D", help="days in the study")
    study.add_argument("--per-day", type=int, metavar="K", help="decision points per day")
    study.add_argument("--sessions", type=int, metavar="S", help="lab sessions per participant")
    study.add_argument(
        "--per-session", type=int, metavar="K", help="decision points per lab session"
    )
    parser.add_argument(
        "--prob",
        metavar="P|FILE",
        help="randomization probability, or a file with one per decision point (or per day)",
    )
    avail = parser.add_argument_group("expected availability")
    avail.add_argument("--availability-shape", choices=SHAPES, default="constant")
    avail.add_argument("--availability-mean", type=float, metavar="M")
    avail.add_argument("--availability-initial", type=float, metavar="I")
    avail.add_argument(
        "--availability-max-day", type=float, metavar="H", help="day of the turning point"
    )
    effect = parser.add_argument_group("standardized proximal effect")
    effect.add_argument("--effect-shape", choices=SHAPES, default="constant")
    effect.add_argument("--effect-mean", type=float, metavar="M")
    effect.add_argument("--effect-initial", type=float, metavar="I")
    effect.add_argument("--effect-max-day", type=float, metavar="H", help="day of the maximum")
    test = parser.add_argument_group("test")
    test.add_argument(
        "--null-params",
        type=int,
        default=3,
        metavar="Q",
        help="parameters of the working (null) model (default 3, as the public calculator)",
    )
    test.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    test.add_argument("--target", type=float, dest="power", help="the same as --power")
    test.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    test.add_argument(
        "--n",
        metavar="N",
        help="give the power for N participants; with --simulate a grid, e.g. 20:80:10",
    )
    sim = parser.add_argument_group(
        "power of the study as designed, by simulation (instead of the closed form)"
    )
    sim.add_argument("--simulate", metavar="PROTOCOL", help="the protocol file of the study")
    sim.add_argument("--effects", metavar="EFFECTS.toml", help="expected effects and analysis")
    sim.add_argument("--trials", type=int, default=1000, help="simulated studies per N (1000)")
    sim.add_argument(
        "--null-trials",
        type=int,
        metavar="K",
        help="trials with every effect 0 (default: --trials)",
    )
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulation (0)")
    sim.add_argument("--workers", type=int, default=1, help="local processes (1)")
    sim.add_argument(
        "--scheduler", metavar="ADDRESS", help="run the trials on a Dask cluster (tcp://host:8786)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="FILE.png", help="save power against participants")
    parser.set_defaults(handler=run)


def _study_length(args) -> tuple[int, int]:
    from labmrt.analysis.power import sessions_to_days
    from labmrt.errors import LabmrtError, Problem

    by_day = args.days is not None or args.per_day is not None
    by_session = args.sessions is not None or args.per_session is not None
    if by_day and by_session:
        raise LabmrtError(
            Problem(
                "study length",
                "give either --days/--per-day or --sessions/--per-session, not both",
                "a session stands for a day",
            )
        )
    if by_session:
        if args.sessions is None or args.per_session is None:
            raise LabmrtError(
                Problem("study length", "--sessions needs --per-session and the other way round")
            )
        return sessions_to_days(args.sessions, args.per_session)
    if args.days is None or args.per_day is None:
        raise LabmrtError(
            Problem(
                "study length",
                "missing",
                "give --days D --per-day K (or --sessions S --per-session K)",
            )
        )
    return args.days, args.per_day


def _needs(shape: str, name: str, value, flag: str) -> None:
    from labmrt.errors import LabmrtError, Problem

    if value is None:
        raise LabmrtError(Problem(flag, f"is required for a {shape} {name}", f"give {flag}"))


def _trajectory(args, prefix: str, name: str):
    from labmrt.analysis.power import Trajectory

    shape = getattr(args, f"{prefix}_shape")
    mean = getattr(args, f"{prefix}_mean")
    initial = getattr(args, f"{prefix}_initial")
    max_day = getattr(args, f"{prefix}_max_day")
    flag = f"--{prefix}"
    if shape in ("linear", "quadratic"):
        _needs(shape, name, initial, f"{flag}-initial")
    if shape == "quadratic":
        _needs(shape, name, max_day, f"{flag}-max-day")
    return Trajectory(
        shape,
        mean,
        initial if shape != "constant" else None,
        max_day if shape == "quadratic" else None,
    )


def _prob(text: str):
    from labmrt.analysis.power import read_probabilities

    try:
        return float(text)
    except ValueError:
        return read_probabilities(Path(text))


_INPUT_KEYS = (
    "days",
    "per_day",
    "sessions",
    "per_session",
    "prob",
    "availability_shape",
    "availability_mean",
    "availability_initial",
    "availability_max_day",
    "effect_shape",
    "effect_mean",
    "effect_initial",
    "effect_max_day",
    "null_params",
    "power",
    "alpha",
    "n",
)


def _inputs(args) -> dict:
    """The options the result came from, so a saved result documents its own calculation."""
    return {k: getattr(args, k) for k in _INPUT_KEYS if getattr(args, k, None) is not None}


def _closed_form_needs(args) -> None:
    from labmrt.errors import LabmrtError, Problem

    for flag, value in (
        ("--prob", args.prob),
        ("--availability-mean", args.availability_mean),
        ("--effect-mean", args.effect_mean),
    ):
        if value is None:
            raise LabmrtError(
                Problem(flag, "is required", f"give {flag} (or --simulate PROTOCOL --effects FILE)")
            )


def _closed_form_n(text):
    from labmrt.errors import LabmrtError, Problem

    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise LabmrtError(
            Problem("--n", f"{text!r} is not a whole number", "a grid needs --simulate")
        ) from None


def run(args) -> int:
    if args.simulate or args.effects:
        from labmrt.commands.power_simulate import run_simulation

        return run_simulation(args)
    from labmrt.analysis import power as mrtpower

    _closed_form_needs(args)
    args.n = _closed_form_n(args.n)

    days, per_day = _study_length(args)
    design = mrtpower.StudyDesign(
        days=days,
        per_day=per_day,
        prob=_prob(args.prob),
        availability=_trajectory(args, "availability", "availability"),
        effect=_trajectory(args, "effect", "effect"),
    )
    if args.n is not None:
        result = mrtpower.power(design, args.n, args.alpha, args.null_params)
    else:
        result = mrtpower.sample_size(design, args.power, args.alpha, args.null_params)
    if args.plot:
        mrtpower.plot_power_curve(design, args.plot, result, args.alpha, args.null_params)
    if args.json:
        out = result.to_dict()
        out["inputs"] = _inputs(args)
        if args.plot:
            out["plot"] = str(args.plot)
        print(json.dumps(out))
        return 0
    dp = days * per_day
    if args.n is not None:
        print(f"power {result.power:.4f} with {result.n} participants")
    else:
        print(
            f"{result.n} participants reach power {result.power:.4f} "
            f"(target {args.power:g}, alpha {args.alpha:g})"
        )
    print(
        f"  study: {days} x {per_day} = {dp} decision points per participant; "
        f"test F({result.df1}, {result.df2}), critical value {result.critical_value:.4f}, "
        f"non-centrality {result.noncentrality:.3f}"
    )
    for warning in result.warnings:
        print(f"  warning: {warning}")
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0
