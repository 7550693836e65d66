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
import sys
import time

EPILOG = """\
examples:
  labmrt robustness export/ --outcome help_log_s --contrast loss-vs-baseline \\
      --moderators aroused --controls prior_help_log_s --draws 5000 --seed 1
  labmrt robustness data.csv --id userid --outcome logstep_30min --treatment intervention \\
      --prob rand_prob --availability avail --controls logstep_pre30min \\
      --outcome-alt logstep_30min_lag1 --subset "day_in_study < 21" --draws 2000 --json
"""


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """The analysis options (data, outcome, treatment, moderators, controls, probabilities)."""
    parser.add_argument(
        "data", metavar="DATA", help="decision-point table (.csv/.parquet) or an export folder"
    )
    g = parser.add_argument_group("analysis (as labmrt analyze)")
    g.add_argument("--outcome", required=True, help="proximal outcome column")
    g.add_argument("--id", default="participant", help="participant column (participant)")
    g.add_argument("--treatment", help="binary 0/1 treatment column (else --contrast on `arm`)")
    g.add_argument("--prob", help="P(treatment = 1): a column or a number (with --treatment)")
    g.add_argument("--arm", default="arm", help="arm column of multi-arm data (arm)")
    g.add_argument(
        "--contrast",
        metavar="T-vs-C",
        help="arm contrast of multi-arm data, e.g. loss-vs-baseline, loss:neutral, gain-vs-rest",
    )
    g.add_argument("--baseline", metavar="ARM", help="the baseline arm (else from the codebook)")
    g.add_argument("--moderators", nargs="*", default=[], metavar="COL", help="effect moderators")
    g.add_argument("--controls", nargs="*", default=[], metavar="COL", help="control variables")
    g.add_argument(
        "--availability",
        default="available",
        help="availability column (available); 'none' if every point was available",
    )
    g.add_argument(
        "--estimator",
        choices=("wcls", "emee"),
        default="wcls",
        help="wcls (continuous outcome) or emee (binary outcome, log relative risk)",
    )
    g.add_argument(
        "--numerator-prob",
        type=float,
        default=0.5,
        help="numerator probability p~ of the weights (0.5, as MRTAnalysis)",
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "robustness",
        help="randomization re-draw check and re-runs over alternative outcomes/subsets",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_analysis_arguments(parser)
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


def analysis_kwargs(args, frame) -> dict:
    """The ``wcls()``/``emee()`` keyword arguments the analysis options describe."""
    from labmrt.analysis.contrasts import resolve_baseline
    from labmrt.errors import LabmrtError, Problem

    availability = None if str(args.availability).lower() == "none" else args.availability
    if availability is not None and availability not in frame.columns:
        raise LabmrtError(
            Problem("--availability", f"column {availability!r} not in the data", "or give none")
        )
    if not 0 < args.numerator_prob < 1:
        raise LabmrtError(Problem("--numerator-prob", "must lie strictly between 0 and 1"))
    kw: dict = dict(
        id=args.id,
        outcome=args.outcome,
        moderators=list(args.moderators),
        controls=list(args.controls),
        availability=availability,
        numerator_prob=args.numerator_prob,
    )
    if args.contrast:
        kw.update(
            contrast=args.contrast,
            arm=args.arm,
            baseline=resolve_baseline(frame, args.baseline, args.data),
        )
        return kw
    if not args.treatment:
        raise LabmrtError(
            Problem(
                "treatment",
                "not given",
                "give --treatment COL --prob P, or --contrast T-vs-C for multi-arm data",
            )
        )
    if args.prob is None:
        raise LabmrtError(Problem("--prob", "is required with --treatment", "a column or P"))
    try:
        prob: str | float = float(args.prob)
    except ValueError:
        prob = args.prob
    kw.update(treatment=args.treatment, rand_prob=prob)
    return kw


class ProgressBar:
    """A one-line terminal progress bar on stderr."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> bool:
        frac = done / total if total else 1.0
        fill = int(round(self.width * frac))
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\rre-draws [{'#' * fill}{'.' * (self.width - fill)}] {done}/{total} {elapsed:.1f} s"
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
    print(
        "  re-drawn sig.: share of re-drawn analyses significant at alpha (expect about alpha); "
        "rand. p: share of re-drawn |estimates| at least the observed one"
    )


def _print_comparison(table) -> None:
    print("comparison over alternative outcomes and subsets:")
    print(
        f"  {'outcome':<20}{'subset':<24}{'term':<18}{'estimate':>10}{'SE':>9}"
        f"{'CI':>22}{'p':>9}{'n':>5}{'rows':>7}"
    )
    for r in table.itertuples(index=False):
        ci = f"[{r.ci_lower:.3f}, {r.ci_upper:.3f}]"
        print(
            f"  {r.outcome:<20.20}{r.subset:<24.24}{r.term:<18.18}{r.estimate:>10.4f}"
            f"{r.se:>9.4f}{ci:>22}{r.p_value:>9.4f}{r.participants:>5}{r.rows:>7}"
        )


def run(args) -> int:
    from labmrt.analysis import robustness as rb
    from labmrt.errors import LabmrtError, Problem

    if args.draws < 0:
        raise LabmrtError(Problem("--draws", "must be 0 or more"))
    if not 0 < args.alpha < 1:
        raise LabmrtError(Problem("--alpha", "must lie strictly between 0 and 1"))
    from labmrt.analysis.api import read_table

    frame = read_table(args.data)
    kw = analysis_kwargs(args, frame)
    out: dict = {}
    result = None
    if args.draws > 0:
        design = rb.design_from_analysis(frame, estimator=args.estimator, **kw)
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
            frame, kw, args.outcome_alt, args.subset, estimator=args.estimator, alpha=args.alpha
        )
        out["comparison"] = table.to_dict(orient="records")
    if args.json:
        print(json.dumps(out))
        return 0
    if result is not None:
        _print_result(result)
        if args.plot:
            print(f"  plot: {args.plot}")
    if table is not None:
        _print_comparison(table)
    return 0
