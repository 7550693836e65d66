"""``labmrt analyze`` for the distal (dcee), mediated (mcee), emee2 and effect-size analyses.

The options select the analysis (``--distal-outcome``: dcee, with
``--mediator``: mcee; ``--binary --centered-residual``: emee2;
``--effect-size``: the standardized proximal effect); each analysis takes
its own set of options, and any other option given is an error naming the
analyses that do take it, so that a command line cannot silently mean
something else than it says. The JSON object follows the distal CLI
contract: ``method``, ``terms``, ``covariance``, ``df``, ``conf_level``,
``n_participants`` and ``lincomb`` (one row per ``--lincomb``).
"""

from __future__ import annotations

import argparse
import json
import sys

# Options every analysis takes (argparse dests).
_COMMON = {"data", "id", "treatment", "prob", "availability", "conf_level", "json", "debug"}
# What each analysis takes besides; "wcls" stands for the existing wcls / emee analyses.
# A contrast of the recorded arms, in place of --treatment / --prob (labmrt's own data).
_CONTRAST = {"contrast", "baseline", "arm_column"}
ACCEPTS: dict[str, set[str]] = {
    "dcee": {"distal_outcome", "moderator", "control", "learner", "weights", "decision_point"}
    | {"lincomb"}
    | _CONTRAST,
    "mcee": _CONTRAST
    | {
        "distal_outcome",
        "mediator",
        "decision_point",
        "effect_form",
        "control",
        "learner",
        "weights",
        "specific_dp",
        "lincomb",
    },
    "emee2": {
        "binary",
        "centered_residual",
        "outcome",
        "moderator",
        "control",
        "numerator_prob",
        "decision_point",
        "lincomb",
    },
    "effect_size": {
        "effect_size",
        "outcome",
        "decision_point",
        "control",
        "bootstrap",
        "seed",
        "span",
        "no_smooth",
        "plot",
    },
    "wcls": {
        "plan",
        "outcome",
        "decision_point",
        "moderator",
        "control",
        "numerator_prob",
        "binary",
        "contrast",
        "baseline",
        "arm_column",
        "per_protocol",
        "received",
        "lag",
        "outcome_delay",
        "small_sample",
        "lincomb",
        "plot",
        "plot_moderator",
    },
}
NAMES = {
    "dcee": "the distal analysis (dcee)",
    "mcee": "the mediation analysis (mcee)",
    "emee2": "the centred-residual binary analysis (emee2)",
    "effect_size": "the effect-size analysis",
    "wcls": "WCLS / EMEE",
}
SELECTORS = {
    "dcee": "dcee: --distal-outcome",
    "mcee": "mcee: --distal-outcome --mediator",
    "emee2": "emee2: --binary --centered-residual",
    "effect_size": "--effect-size",
    "wcls": "wcls/emee: --outcome",
}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of the distal, mediation, emee2 and effect-size analyses."""
    group = parser.add_argument_group(
        "distal and mediated outcomes, emee2, standardized effect size (MRTAnalysis 0.4)"
    )
    group.add_argument(
        "--distal-outcome", metavar="COL", help="distal outcome (one value per participant): dcee"
    )
    group.add_argument("--mediator", metavar="COL", help="time-varying mediator: mcee")
    group.add_argument(
        "--centered-residual",
        action="store_true",
        help="with --binary: emee2 (treatment centred by p in the residual)",
    )
    group.add_argument(
        "--learner", metavar="NAME", help="stage-1 learner: dcee lm | set_to_zero, mcee glm"
    )
    group.add_argument("--weights", metavar="COL", help="per-row weight column, used as given")
    group.add_argument(
        "--effect-form",
        nargs="+",
        action="extend",
        metavar="TERM",
        help="mcee: columns of the time basis f(t) = (1, TERM...), e.g. the decision point",
    )
    group.add_argument(
        "--specific-dp",
        type=float,
        nargs="+",
        action="extend",
        metavar="K",
        help="mcee: weight 1 at these decision points, 0 elsewhere",
    )
    group.add_argument(
        "--effect-size",
        action="store_true",
        help="standardized proximal effect by decision point, with a bootstrap CI",
    )
    group.add_argument(
        "--bootstrap", type=int, metavar="N", help="effect size: bootstrap replicates (1000)"
    )
    group.add_argument("--seed", type=int, metavar="S", help="effect size: bootstrap seed (0)")
    group.add_argument(
        "--span", type=float, metavar="F", help="effect size: smoother span, share of points (0.25)"
    )
    group.add_argument(
        "--no-smooth", action="store_true", help="effect size: no smoothing over decision points"
    )


def _given(args: argparse.Namespace) -> list[str]:
    return [
        k
        for k, v in vars(args).items()
        if k not in ("handler", "command") and v not in (None, False)
    ]


def select(args: argparse.Namespace) -> str:
    """The analysis the options ask for; contradictory selections are errors."""
    from labmrt.errors import LabmrtError, Problem

    if args.effect_size and args.distal_outcome is not None:
        raise LabmrtError(
            Problem(
                "labmrt analyze",
                "--effect-size and --distal-outcome are both given",
                "the effect size is of a proximal outcome: give --outcome",
            )
        )
    if args.distal_outcome is not None and args.outcome is not None:
        raise LabmrtError(
            Problem(
                "labmrt analyze",
                "--distal-outcome and --outcome are both given",
                "give --distal-outcome for a distal analysis, --outcome for a proximal one",
            )
        )
    if args.centered_residual and not args.binary:
        raise LabmrtError(
            Problem(
                "--centered-residual",
                "needs --binary (emee2 is for a binary proximal outcome)",
                "add --binary",
            )
        )
    if args.mediator is not None and args.distal_outcome is None:
        raise LabmrtError(
            Problem(
                "--mediator",
                "needs --distal-outcome (the mediation analysis is of a distal outcome)",
                "add --distal-outcome COL",
            )
        )
    if args.effect_size:
        return "effect_size"
    if args.distal_outcome is not None:
        return "mcee" if args.mediator is not None else "dcee"
    if args.centered_residual:
        return "emee2"
    return "wcls"


def check_options(args: argparse.Namespace, analysis: str) -> None:
    """Every option given must be one the selected analysis takes."""
    from labmrt.errors import LabmrtError, Problem

    allowed = _COMMON | ACCEPTS[analysis]
    problems = []
    for dest in _given(args):
        if dest in allowed:
            continue
        flag = "--" + dest.replace("_", "-")
        takers = [a for a, opts in ACCEPTS.items() if dest in opts]
        fix = "leave it out"
        if takers:
            fix += "; it is for " + ", ".join(SELECTORS[a] for a in takers)
        problems.append(Problem(flag, f"is not an option of {NAMES[analysis]}", fix))
    if problems:
        raise LabmrtError(problems)


def handle(args: argparse.Namespace, analysis: str) -> int:
    from labmrt.errors import LabmrtError, Problem

    check_options(args, analysis)
    if args.data is None:
        raise LabmrtError(
            Problem("labmrt analyze", "no data given", "pass DATA (a CSV or Parquet)")
        )
    from labmrt.analysis.api import read_table

    frame = read_table(args.data)
    treatment, prob = args.treatment, args.prob
    if args.contrast is not None:
        frame, treatment, prob = _contrast(args, frame)
    common = dict(
        id=args.id or "participant",
        treatment=treatment,
        rand_prob=prob,
        availability=args.availability,
        conf_level=0.95 if args.conf_level is None else args.conf_level,
    )
    if analysis == "effect_size":
        return _effect_size(args, frame, common)
    if analysis == "dcee":
        from labmrt.analysis.distal import dcee

        if args.learner is None:
            from labmrt.analysis.distal_plan import missing_learner

            raise LabmrtError(missing_learner("--learner", "give --learner lm (or set_to_zero)"))
        result = dcee(
            frame,
            outcome=args.distal_outcome,
            moderators=args.moderator or (),
            controls=args.control or (),
            learner=args.learner,
            weights=args.weights,
            decision_point=args.decision_point,
            **common,
        )
    elif analysis == "mcee":
        from labmrt.analysis.mediation import mcee

        result = mcee(
            frame,
            decision_point=args.decision_point,
            outcome=args.distal_outcome,
            mediator=args.mediator,
            controls=args.control or (),
            effect_form=args.effect_form or (),
            learner=args.learner or "glm",
            weights=args.weights,
            specific_dp=args.specific_dp,
            **common,
        )
    else:
        from labmrt.analysis.emee2 import emee2

        result = emee2(
            frame,
            outcome=args.outcome,
            moderators=args.moderator or (),
            controls=args.control or (),
            numerator_prob=args.numerator_prob,
            decision_point=args.decision_point,
            **common,
        )
    if args.json:
        out = result.to_dict(args.lincomb or None)
        out["data"] = str(args.data)
        _dump(out)
        return 0
    print(result.summary())
    if args.lincomb:
        tab = result.lincomb(args.lincomb)
        print(f"\nLinear combinations of the terms (t, df = {result.df})")
        print(tab.drop(columns=["df"]).to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def _contrast(args, frame):
    """The treatment and probability columns of ``--contrast`` (every arm on a side)."""
    from labmrt.analysis.contrasts import distal_treatment, resolve_baseline
    from labmrt.errors import LabmrtError, Problem

    given = [
        f for f, v in (("--treatment", args.treatment), ("--prob", args.prob)) if v is not None
    ]
    if given:
        raise LabmrtError(
            Problem(
                given[0],
                "is given together with --contrast, which derives the treatment and its "
                "probability from the recorded arms",
                "give --contrast, or --treatment with --prob",
            )
        )
    baseline = resolve_baseline(frame, args.baseline, args.data)
    return distal_treatment(
        frame, args.contrast, baseline, args.arm_column or "arm", args.availability
    )


def _effect_size(args, frame, common) -> int:
    from labmrt.analysis.effect_size import effect_size

    result = effect_size(
        frame,
        outcome=args.outcome,
        decision_point=args.decision_point,
        covariates=args.control or (),
        smooth=not args.no_smooth,
        span=0.25 if args.span is None else args.span,
        bootstrap=1000 if args.bootstrap is None else args.bootstrap,
        seed=0 if args.seed is None else args.seed,
        **common,
    )
    if args.plot:
        result.plot(args.plot)
    if args.json:
        out = result.to_dict()
        out["data"] = str(args.data)
        if args.plot:
            out["plot"] = args.plot
        _dump(out)
        return 0
    print(result.summary())
    if args.plot:
        print(f"\nplot: {args.plot}")
    return 0


def _dump(out: dict) -> None:
    json.dump(out, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
