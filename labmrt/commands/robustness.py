"""``labmrt robustness``: randomization re-draw check and re-runs over alternatives.

Takes the same analysis options as ``labmrt analyze`` and re-runs that WCLS
analysis ``--draws`` times with the treatment re-drawn from the recorded
randomization probabilities (``--shuffle``: a naive permutation instead,
labelled as such). With ``--outcome-alt`` and/or ``--subset`` it also prints
one table comparing the analysis over alternative outcomes and row subsets.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

EPILOG = """\
examples:
  labmrt robustness export/ --outcome help_log_s --contrast loss-vs-baseline \\
      --moderator affect_state --control task_index --availability available --draws 5000 --seed 1
  labmrt robustness data.csv --id userid --outcome logstep_30min --treatment intervention \\
      --prob 0.6 --availability avail --control logstep_pre30min --plot null.png \\
      --subset "day_in_study < 21" --subset "is_at_home_or_work == 1" --draws 2000
"""


def analyze_options() -> argparse.ArgumentParser:
    """``labmrt analyze``'s parser, so that ``labmrt robustness`` takes exactly its options.

    Used as an argparse parent: every analysis option (and ``--plan``) is
    defined once, in :mod:`labmrt.commands.analyze`.
    """
    from labmrt.commands import analyze

    holder = argparse.ArgumentParser(add_help=False)
    sub = holder.add_subparsers()
    analyze.register(sub)
    return sub.choices["analyze"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "robustness",
        help="randomization re-draw check and re-runs over alternative outcomes/subsets",
        description=(
            "Randomization re-draw check of one analysis, and re-runs over alternative "
            "outcomes and row subsets. The analysis options are those of labmrt analyze."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[analyze_options()],
        conflict_handler="resolve",  # --plot and --json mean this command's outputs here
    )
    r = parser.add_argument_group("robustness")
    r.add_argument("--draws", type=int, default=5000, help="re-drawn analyses (5000; 0: none)")
    r.add_argument("--seed", type=int, help="seed of the re-draws (reproducible)")
    r.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    r.add_argument(
        "--shuffle",
        action="store_true",
        help="naive shuffle of the recorded arms instead of re-drawing (ignores the probabilities)",
    )
    r.add_argument("--plot", metavar="FILE.png", help="histograms of the null distributions")
    r.add_argument("--outcome-alt", nargs="+", default=[], metavar="COL", help="other outcomes")
    r.add_argument(
        "--subset",
        action="append",
        default=[],
        metavar="EXPR",
        help='row subset as a pandas query, e.g. "task_index < 20" (repeatable)',
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def analysis_plan(args):
    """The analysis the options (and ``--plan``) describe, exactly as ``labmrt analyze`` reads it."""
    from labmrt.analysis.spec import load_plan, plan_from_dict
    from labmrt.commands.analyze import _OVERRIDES
    from labmrt.errors import LabmrtError, Problem

    raw: dict = {}
    source = None
    if args.plan:
        plan = load_plan(args.plan)
        raw = plan.model_dump(exclude_unset=True)
        source = plan.source
    for opt, key in _OVERRIDES.items():
        value = getattr(args, opt, None)
        if value is not None and key != "lincomb":
            raw[key] = value
    raw.pop("lincomb", None)
    if args.binary:
        raw["method"] = "emee"
    if args.per_protocol:
        raw["per_protocol"] = True
    if "outcome" not in raw:
        raise LabmrtError(Problem("labmrt robustness", "no --outcome given", "name the outcome"))
    plan = plan_from_dict(raw, source=source)
    if plan.method not in ("wcls", "emee"):
        raise LabmrtError(
            Problem(
                f"{args.plan}: method",
                f"is {plan.method!r}: the robustness checks re-draw the arms of a WCLS or EMEE "
                "analysis of a proximal outcome",
                "give a plan of a proximal analysis (method wcls or emee)",
            )
        )
    data = args.data if args.data is not None else plan.data_path()
    if data is None:
        raise LabmrtError(
            Problem("labmrt robustness", "no data given", "pass DATA or a --plan with data = ...")
        )
    return plan, data


class ProgressBar:
    """A one-line terminal progress bar on stderr."""

    def __init__(self, stream=None, width: int = 30, label: str = "re-draws"):
        self.stream = stream or sys.stderr
        self.label = label
        self.width = width
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> bool:
        if done < total and not self.stream.isatty():
            return True  # not a terminal: only the final line
        frac = done / total if total else 1.0
        fill = int(round(self.width * frac))
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done}/{total} {elapsed:.1f} s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
        return True


def _print_result(result) -> None:
    print(
        f"randomization check: {result.draws_done} analyses with the treatment "
        f"{result.method_label} (seed {result.seed}, alpha {result.alpha:g}, "
        f"{result.seconds:.2f} s)"
    )
    header = f"  {'term':<22}{'estimate':>10}{'SE':>9}{'p':>9}{'re-drawn sig.':>15}{'rand. p':>10}"
    print(header)
    for t in result.terms:
        print(
            f"  {t.name:<22}{t.estimate:>10.4f}{t.se:>9.4f}{t.p_value:>9.4f}"
            f"{100 * t.share_significant:>14.1f}%{t.randomization_p:>10.4f}"
        )
    failed = max((t.failed_draws for t in result.terms), default=0)
    if failed:
        print(
            f"  {failed} re-drawn analyses had no fit (a term without information) and are left out"
        )
    print(
        "  re-drawn sig.: share of re-drawn analyses significant at alpha (expect about alpha); "
        "rand. p: share of re-drawn |estimates| at least the observed one"
    )


def _print_comparison(table) -> None:
    print("comparison over alternative outcomes and subsets:")
    shown = table.assign(
        CI=[f"[{lo:.4f}, {hi:.4f}]" for lo, hi in zip(table.ci_lower, table.ci_upper, strict=True)]
    )[["outcome", "subset", "term", "estimate", "se", "CI", "p_value", "participants", "rows"]]
    text = shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    print("\n".join("  " + line for line in text.splitlines()))


def _finite(value):
    """NaN/inf (a quantity without draws) as JSON null, so the output stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def run(args) -> int:
    from labmrt.analysis import robustness as rb
    from labmrt.errors import LabmrtError, Problem

    if args.draws < 0:
        raise LabmrtError(Problem("--draws", "must be 0 or more"))
    if not 0 < args.alpha < 1:
        raise LabmrtError(Problem("--alpha", "must lie strictly between 0 and 1"))
    from labmrt.analysis.api import read_table
    from labmrt.analysis.contrasts import resolve_baseline

    plan, data = analysis_plan(args)
    frame = read_table(data)
    kw = plan.call_kwargs()
    conf_level = kw.pop("conf_level")
    small_sample = kw.pop("small_sample", "auto")
    if kw.get("contrast") and kw.get("baseline") is None:
        kw["baseline"] = resolve_baseline(frame, None, data)  # the codebook beside the data
    out: dict = {"notes": []}
    if plan.treatment_lags:
        out["notes"].append("lagged treatments are kept as recorded in every re-draw")
    if plan.per_protocol:
        out["notes"].append("per-protocol rows: the received flag is kept as recorded")
    result = None
    if args.draws > 0:
        design = rb.design_from_analysis(
            frame, estimator=plan.method, small_sample=small_sample, **kw
        )
        progress = None if (args.no_progress or args.json) else ProgressBar()
        result = rb.randomization_test(
            design,
            args.draws,
            seed=args.seed,
            method="shuffle" if args.shuffle else "redraw",
            alpha=args.alpha,
            progress=progress,
        )
        out["randomization"] = result.to_dict()
        if args.plot:
            rb.plot_null_distributions(result, args.plot)
            out["plot"] = str(args.plot)
    table = None
    if args.outcome_alt or args.subset:
        table = rb.compare_variants(
            frame,
            {**kw, "small_sample": small_sample},
            args.outcome_alt,
            args.subset,
            estimator=plan.method,
            alpha=1 - conf_level,
        )
        out["comparison"] = table.to_dict(orient="records")
    if args.json:
        print(json.dumps(_finite(out), allow_nan=False))
        return 0
    if result is not None:
        _print_result(result)
        if args.plot:
            print(f"  plot: {args.plot}")
    if table is not None:
        _print_comparison(table)
    for note in out["notes"]:
        print(f"note: {note}")
    return 0
