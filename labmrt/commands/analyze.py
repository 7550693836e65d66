"""``labmrt analyze``: causal excursion effects (WCLS, or EMEE with ``--binary``).

Options mirror MRTAnalysis ``wcls()``/``emee()`` arguments; ``--contrast``
derives the treatment and its probability from labmrt's ``arm`` and
``prob_<arm>`` columns; ``--plan`` reads the same options from a TOML
analysis plan (options given on the command line override the plan).
"""

from __future__ import annotations

import argparse
import json
import sys

from labmrt.commands import analyze_distal

EPILOG = """\
examples:
  labmrt analyze data.csv --id userid --outcome logstep_30min --treatment intervention \\
      --prob 0.6 --control logstep_pre30min --availability avail
  labmrt analyze export/decision_points.csv --outcome help_log --contrast loss-vs-baseline \\
      --moderator affect_state --control affect_state task_index --availability available --json
  labmrt analyze --plan plan.toml --plot effect.png
  labmrt analyze data.csv --id userid --distal-outcome Y --treatment A --prob prob_A \\
      --moderator Z --control Z X --availability avail --learner lm --json
  labmrt analyze data.csv --id id --decision-point dp --distal-outcome Y --treatment A \\
      --mediator M --prob p_A --availability I --effect-form dp --control dp M X --json
  labmrt analyze export/ --distal-outcome share_correct --mediator help_hint_seconds \\
      --decision-point decision_point --contrast loss-vs-rest --availability available \\
      --control task_index help_hint_seconds
  labmrt analyze data.csv --binary --centered-residual --outcome y --treatment A --prob 0.6
  labmrt analyze data.csv --effect-size --outcome y --treatment A --prob p \\
      --decision-point dp --control x --bootstrap 1000 --seed 1 --plot d.png

contrasts: T-vs-C or T:C, sides are arm ids joined by "+", or "baseline" (the
baseline arm), "rest" (right side: every other arm), "any" (left side: every
arm but the baseline). Rows drawn to an arm outside the contrast are excluded;
a distal analysis (dcee, mcee) takes only contrasts with every arm on a side.
"""


def _number_or_column(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _weights(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r} (e.g. 1,1)") from None


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="causal excursion effects (WCLS / EMEE) of a decision-point table",
        description=(
            "Estimate causal excursion effects from a long table (CSV or Parquet, one row "
            "per participant x decision point) with WCLS (continuous outcome) or EMEE "
            "(--binary: log relative risk), as the R package MRTAnalysis does."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", nargs="?", help="CSV or Parquet table (or an export folder)")
    parser.add_argument(
        "--plan", "--spec", metavar="TOML", help="analysis plan (spec) file, options as keys"
    )
    parser.add_argument("--id", metavar="COL", help="participant id column (participant)")
    parser.add_argument("--decision-point", metavar="COL", help="decision point column")
    parser.add_argument("--outcome", metavar="COL", help="proximal outcome column")
    parser.add_argument("--treatment", metavar="COL", help="0/1 treatment column")
    parser.add_argument(
        "--prob", type=_number_or_column, metavar="COL|P", help="P(treatment = 1): column or number"
    )
    parser.add_argument(
        "--moderator", nargs="+", action="extend", metavar="COL", help="effect moderator(s)"
    )
    parser.add_argument(
        "--control", nargs="+", action="extend", metavar="COL", help="control variable(s)"
    )
    parser.add_argument("--availability", metavar="COL", help="0/1 availability column")
    parser.add_argument(
        "--numerator-prob",
        type=_number_or_column,
        metavar="COL|P",
        help="numerator probability p~ (default 0.5, as MRTAnalysis)",
    )
    parser.add_argument(
        "--binary", action="store_true", help="binary outcome: EMEE (log relative risk)"
    )
    parser.add_argument("--contrast", metavar="SPEC", help="e.g. loss-vs-baseline, gain-vs-rest")
    parser.add_argument("--baseline", metavar="ARM", help="the baseline arm (else the codebook)")
    parser.add_argument("--arm-column", metavar="COL", help="arm column for --contrast (arm)")
    parser.add_argument(
        "--per-protocol",
        action="store_true",
        help="only decision points whose framing was received (not randomization-protected)",
    )
    parser.add_argument("--received", metavar="COL", help="received flag column (received)")
    parser.add_argument(
        "--lag",
        type=int,
        nargs="+",
        action="extend",
        metavar="K",
        help="add the treatment k decision points earlier as a control",
    )
    parser.add_argument(
        "--outcome-delay", type=int, metavar="K", help="effect on the outcome K points later"
    )
    parser.add_argument(
        "--small-sample",
        choices=("auto", "always", "never"),
        help="Mancl-DeRouen correction (auto: as MRTAnalysis, <= 50 participants)",
    )
    parser.add_argument("--conf-level", type=float, metavar="X", help="confidence level (0.95)")
    parser.add_argument(
        "--lincomb",
        type=_weights,
        action="append",
        metavar="W,W,...",
        help="linear combination of the effect terms, e.g. 1,1 (repeatable)",
    )
    parser.add_argument("--plot", metavar="PNG", help="save the effect-by-moderator plot")
    parser.add_argument("--plot-moderator", metavar="COL", help="moderator on the plot's x axis")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    analyze_distal.add_options(parser)
    parser.set_defaults(handler=handle)


_OVERRIDES = {
    "id": "id",
    "decision_point": "decision_point",
    "outcome": "outcome",
    "treatment": "treatment",
    "prob": "prob",
    "moderator": "moderators",
    "control": "controls",
    "availability": "availability",
    "numerator_prob": "numerator_prob",
    "contrast": "contrast",
    "baseline": "baseline",
    "arm_column": "arm",
    "received": "received",
    "lag": "treatment_lags",
    "outcome_delay": "outcome_delay",
    "small_sample": "small_sample",
    "conf_level": "conf_level",
    "lincomb": "lincomb",
}


def handle(args: argparse.Namespace) -> int:
    from labmrt.analysis.spec import fit_analysis, load_plan, plan_from_dict
    from labmrt.errors import LabmrtError, Problem

    analysis = analyze_distal.select(args)
    if analysis != "wcls":
        return analyze_distal.handle(args, analysis)
    analyze_distal.check_options(args, "wcls")
    raw: dict = {}
    source = None
    if args.plan:
        from labmrt.report.catalog import checked_plan

        load_plan(args.plan)  # the plan's own problems first
        plan = checked_plan(args.plan)  # then against the protocol it names, if any
        raw = plan.model_dump(exclude_unset=True)
        source = plan.source
    for opt, key in _OVERRIDES.items():
        value = getattr(args, opt)
        if value is not None:
            raw[key] = value
    if args.binary:
        raw["method"] = "emee"
    if args.per_protocol:
        raw["per_protocol"] = True
    if "outcome" not in raw:
        raise LabmrtError(Problem("labmrt analyze", "no --outcome given", "name the outcome"))
    plan = plan_from_dict(raw, source=source)
    data = args.data
    if data is None and plan.data is None:
        raise LabmrtError(
            Problem("labmrt analyze", "no data given", "pass DATA or a --plan with data = ...")
        )
    result = fit_analysis(plan, data)
    tested = _hypotheses(plan, data if data is not None else plan.data_path())
    if args.plot:
        result.plot_effect(args.plot, moderator=args.plot_moderator)
    if args.json:
        out = result.to_dict(plan.lincomb or None)
        if tested:
            out["hypotheses"] = [r.to_dict() for r in tested]
        out["data"] = str(data if data is not None else plan.data_path())
        if args.plot:
            out["plot"] = args.plot
        json.dump(out, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    print(result.summary())
    if plan.lincomb:
        tab = result.lincomb(plan.lincomb)
        print(f"\nLinear combinations of effect terms (t, df = {result.df})")
        print(tab.drop(columns=["df"]).to_string(float_format=lambda v: f"{v:.4f}"))
    if tested:
        print("\nHypotheses of the plan (p one-sided for >0 / <0; adjusted as the plan says)")
        for r in tested:
            h = r.hypothesis
            verdict = (
                "not estimable"
                if r.supported is None
                else ("supported" if r.supported else "not supported")
            )
            print(
                f"  {h.id} [{h.role}] {h.contrast} on {h.outcome}, {h.effect_label()} {h.direction}: "
                f"{r.estimate:.4f} [{r.ci_lower:.4f}, {r.ci_upper:.4f}] p {r.p_value:.4g} "
                f"adjusted {r.p_adjusted:.4g}: {verdict}" + (f" ({r.error})" if r.error else "")
            )
    if args.plot:
        print(f"\nplot: {args.plot}")
    return 0


def _hypotheses(plan, data):
    """The plan's hypotheses tested on the same table (empty without hypotheses)."""
    if not plan.hypotheses:
        return []
    from labmrt.analysis.api import read_table
    from labmrt.analysis.contrasts import resolve_baseline
    from labmrt.analysis.hypotheses import evaluate_hypotheses

    frame = read_table(data)
    if plan.baseline is None:
        plan = plan.model_copy(update={"baseline": resolve_baseline(frame, None, data)})
    return evaluate_hypotheses(plan, frame)
