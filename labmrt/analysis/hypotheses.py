"""Pre-registered hypotheses: checked against the study, tested, adjusted, re-checked.

Each hypothesis of an :class:`~labmrt.analysis.spec.AnalysisPlan` is one
quantity of one analysis: the marginal effect, the effect at one level of a
moderator, or the difference of the effects at two levels. Each is written
as the *first effect term* (or one dummy term) of a WCLS/EMEE fit, by coding
the data so that the level of interest is the reference: a categorical
moderator becomes a pandas ``Categorical`` with that level first, a numeric
one is centred at the level. The same coded data then feed the re-drawn
randomization check, which reports per term, so the hypothesis's null
distribution is that of one term, not a combination.

A distal hypothesis is the intercept of a ``dcee`` fit, a mediated one the
intercept of the natural direct or indirect effect of an ``mcee`` fit
(:func:`labmrt.analysis.distal_plan.fit_distal`), each marginal over every
decision point. Their contrast must put every arm on a side (a distal outcome
depends on every decision point), and the re-drawn, subset and per-protocol
robustness checks are for the proximal hypotheses only.

Directional hypotheses get one-sided t p-values and a one-sided confidence
bound; the primary family is adjusted with
:func:`statsmodels.stats.multitest.multipletests` (Holm 1979 by default).
A hypothesis is supported when its (adjusted) p-value is below its alpha and,
for a two-sided one, in either direction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from labmrt.analysis.options import AnalysisOptions
from labmrt.analysis.spec import AnalysisPlan, Hypothesis
from labmrt.errors import LabmrtError, Problem

INTERCEPT = "(Intercept)"
NOT_AN_ARM = "is not an arm of the protocol"


# --------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Catalog:
    """What a study records: the names a plan may refer to.

    ``moderators`` maps a moderator to its levels (categorical) or ``None``
    (numeric); ``outcomes`` are the proximal outcomes, ``distal_outcomes`` those
    measured once per participant. Built from a protocol by
    :func:`labmrt.report.catalog.catalog_of`.
    """

    outcomes: tuple[str, ...]
    arms: tuple[str, ...]
    baseline: str | None
    moderators: dict[str, tuple[str, ...] | None]
    binary_outcomes: tuple[str, ...] = ()
    distal_outcomes: tuple[str, ...] = ()


def plan_problems(plan: AnalysisPlan, catalog: Catalog, where: str) -> list[Problem]:
    """Every reference of the plan that the study does not have, as located problems."""
    from labmrt.analysis.contrasts import covering_contrast, parse_contrast

    problems: list[Problem] = []
    outcomes = ", ".join(catalog.outcomes) or "none"
    distal_outcomes = ", ".join(catalog.distal_outcomes) or "none"
    moderators = ", ".join(catalog.moderators) or "none"

    def contrast_ok(spec: str, at: str, covering: bool = False) -> None:
        parse = covering_contrast if covering else parse_contrast
        try:
            parse(spec, list(catalog.arms), catalog.baseline)
        except LabmrtError as err:
            for p in err.problems:
                what, fix = p.what, p.fix
                # The analyzer speaks of the data's prob_ columns; here the protocol is meant.
                if "has no prob_" in what:
                    what = re.sub(r"has no prob_\S+ column.*$", NOT_AN_ARM, what)
                    fix = "arms: " + ", ".join(catalog.arms)
                problems.append(Problem(at, f"{p.where}: {what}" if p.where else what, fix))

    if plan.contrast is not None:
        contrast_ok(plan.contrast, f"{where}: contrast")
    for j, m in enumerate(plan.moderators, start=1):
        if m not in catalog.moderators:
            problems.append(
                Problem(
                    f"{where}: moderators[{j}]",
                    f"{m!r} is not a moderator of the protocol",
                    f"use one of: {moderators}",
                )
            )
    for i, h in enumerate(plan.hypotheses, start=1):
        at = f"{where}: hypotheses[{i}]"
        if h.is_distal(plan.method):
            problems += _distal_problems(h, catalog, at, outcomes, distal_outcomes)
            contrast_ok(h.contrast, f"{at}.contrast", covering=True)
            continue
        if h.outcome in catalog.distal_outcomes:
            problems.append(
                Problem(
                    f"{at}.outcome",
                    f"{h.outcome!r} is a distal outcome (one value per participant)",
                    'test it with method = "dcee", or name a mediator for its direct and '
                    "indirect effects",
                )
            )
        elif h.outcome not in catalog.outcomes:
            problems.append(
                Problem(
                    f"{at}.outcome",
                    f"{h.outcome!r} is not an outcome of the protocol",
                    f"use one of: {outcomes}",
                )
            )
        contrast_ok(h.contrast, f"{at}.contrast")
        if h.moderator is None:
            continue
        if h.moderator not in catalog.moderators:
            problems.append(
                Problem(
                    f"{at}.moderator",
                    f"{h.moderator!r} is not a moderator of the protocol",
                    f"use one of: {moderators}",
                )
            )
            continue
        levels = catalog.moderators[h.moderator]
        for key in ("level", "versus"):
            value = getattr(h, key)
            if value is None:
                continue
            if levels is None and isinstance(value, str):
                problems.append(
                    Problem(
                        f"{at}.{key}",
                        f"{value!r} is not a number, but {h.moderator} is numeric",
                        "give the value the effect is taken at, e.g. level = 70",
                    )
                )
            elif levels is not None and str(value) not in levels:
                problems.append(
                    Problem(
                        f"{at}.{key}",
                        f"{value!r} is not a level of {h.moderator}",
                        "use one of: " + ", ".join(levels),
                    )
                )
    if plan.robustness is not None:
        for name, alts in plan.robustness.alternative_outcomes.items():
            for j, alt in enumerate(alts, start=1):
                if alt not in catalog.outcomes:
                    problems.append(
                        Problem(
                            f"{where}: robustness.alternative_outcomes.{name}[{j}]",
                            f"{alt!r} is not an outcome of the protocol",
                            f"use one of: {outcomes}",
                        )
                    )
    return problems


def _distal_problems(
    h: Hypothesis, catalog: Catalog, at: str, outcomes: str, distal_outcomes: str
) -> list[Problem]:
    """A distal hypothesis's outcome is a distal outcome, its mediator a proximal one."""
    problems = []
    if h.outcome not in catalog.distal_outcomes:
        problems.append(
            Problem(
                f"{at}.outcome",
                f"{h.outcome!r} is not a distal outcome of the study",
                f"use one of: {distal_outcomes}",
            )
        )
    if h.mediator is not None and h.mediator not in catalog.outcomes:
        problems.append(
            Problem(
                f"{at}.mediator",
                f"{h.mediator!r} is not a proximal outcome of the protocol",
                f"use one of: {outcomes}",
            )
        )
    return problems


# --------------------------------------------------------------------------- coding
def coded_frame(frame: pd.DataFrame, h: Hypothesis) -> tuple[pd.DataFrame, str]:
    """The data coded so that ``h``'s quantity is one effect term, and that term's name."""
    if h.moderator is None:
        return frame, INTERCEPT
    col = frame[h.moderator]
    numeric = isinstance(h.level, int | float) and not isinstance(h.level, bool)
    if numeric:
        values = pd.to_numeric(col, errors="coerce")
        if h.versus is not None:
            raise LabmrtError(
                Problem(
                    f"hypothesis {h.id}",
                    "versus is for categorical moderators",
                    "for a numeric moderator test its slope as a separate analysis",
                )
            )
        return frame.assign(**{h.moderator: values - float(h.level)}), INTERCEPT
    text = col.astype("string")
    reference = str(h.versus if h.versus is not None else h.level)
    present = sorted(v for v in text.dropna().unique() if v != reference)
    coded = pd.Categorical(text.astype(object), categories=[reference, *present])
    term = f"{h.moderator}{h.level}" if h.versus is not None else INTERCEPT
    return frame.assign(**{h.moderator: coded}), term


def hypothesis_kwargs(plan: AnalysisPlan, h: Hypothesis) -> tuple[str, dict]:
    """``(method, wcls()/emee() keyword arguments)`` of a proximal hypothesis's analysis."""
    kw = plan.call_kwargs()
    kw.update(outcome=h.outcome, contrast=h.contrast, treatment=None, rand_prob=None)
    kw["moderators"] = [h.moderator] if h.moderator else []
    return h.method_of(plan.method), kw


def distal_options(plan: AnalysisPlan, h: Hypothesis) -> AnalysisOptions:
    """The plan's options as ``h``'s distal or mediated analysis, marginal, one contrast."""
    fields = set(AnalysisOptions.model_fields)
    base = {k: v for k, v in plan.model_dump().items() if k in fields}
    base.update(
        method=h.method_of(plan.method),
        outcome=h.outcome,
        contrast=h.contrast,
        treatment=None,
        prob=None,
        moderators=[],
        mediator=h.mediator,
    )
    return AnalysisOptions.model_validate(base)


def distal_term(h: Hypothesis) -> str:
    """The fit's row a distal (intercept) or mediated (ndee / niee intercept) hypothesis tests."""
    if h.mediator is None:
        return INTERCEPT
    return f"{'ndee' if h.effect == 'direct' else 'niee'}:{INTERCEPT}"


def _fit(method: str, frame: pd.DataFrame, kw: dict):
    from labmrt.analysis.api import emee, wcls

    return (emee if method == "emee" else wcls)(frame, **kw)


# --------------------------------------------------------------------------- tests
@dataclass
class HypothesisResult:
    """The test of one hypothesis; ``supported`` is None when it could not be estimated."""

    hypothesis: Hypothesis
    alpha: float
    term: str = ""
    estimate: float = math.nan
    std_error: float = math.nan
    ci_lower: float = math.nan
    ci_upper: float = math.nan
    df: int = 0
    p_value: float = math.nan  # one-sided for a directional hypothesis
    p_adjusted: float = math.nan
    adjustment: str = "none"
    supported: bool | None = None
    n_participants: int = 0
    n_used: int = 0
    method: str = ""
    scale: str = ""
    error: str = ""
    result: object = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.hypothesis.id

    def to_dict(self) -> dict:
        h = self.hypothesis
        return {
            "id": h.id,
            "text": h.text,
            "role": h.role,
            "outcome": h.outcome,
            "contrast": h.contrast,
            "method": self.method,
            "mediator": h.mediator,
            "effect": h.effect_label(),
            "direction": h.direction,
            "alpha": self.alpha,
            "term": self.term,
            "estimate": _finite(self.estimate),
            "std_error": _finite(self.std_error),
            "ci_lower": _finite(self.ci_lower),
            "ci_upper": _finite(self.ci_upper),
            "df": self.df,
            "p_value": _finite(self.p_value),
            "p_adjusted": _finite(self.p_adjusted),
            "adjustment": self.adjustment,
            "supported": self.supported,
            "n_participants": self.n_participants,
            "n_decision_points_used": self.n_used,
            "scale": self.scale,
            "error": self.error,
        }


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def directional(estimate: float, se: float, df: int, direction: str, alpha: float):
    """``(p, ci_lower, ci_upper)``: one-sided t test and bound for ``>0``/``<0``, else two-sided."""
    t = estimate / se
    if direction == ">0":
        return float(stats.t.sf(t, df)), estimate - stats.t.isf(alpha, df) * se, math.inf
    if direction == "<0":
        return float(stats.t.cdf(t, df)), -math.inf, estimate + stats.t.isf(alpha, df) * se
    crit = stats.t.isf(alpha / 2, df)
    return float(2 * stats.t.sf(abs(t), df)), estimate - crit * se, estimate + crit * se


def evaluate_hypothesis(plan: AnalysisPlan, h: Hypothesis, frame: pd.DataFrame) -> HypothesisResult:
    """Fit ``h``'s analysis on ``frame`` and test it (unadjusted)."""
    alpha = h.alpha if h.alpha is not None else plan.alpha
    out = HypothesisResult(h, alpha, method=h.method_of(plan.method))
    try:
        if h.is_distal(plan.method):
            from labmrt.analysis.distal_plan import fit_distal

            term = distal_term(h)
            res = fit_distal(distal_options(plan, h), frame, plan.data_path())
        else:
            coded, term = coded_frame(frame, h)
            method, kw = hypothesis_kwargs(plan, h)
            res = _fit(method, coded, kw)
        row = res.table.loc[term]
    except LabmrtError as err:
        out.error = err.message
        return out
    except KeyError:
        out.error = f"the data give no term {term!r} (the level has no analyzed decision points)"
        return out
    out.result = res
    out.term = term
    out.estimate, out.std_error = float(row["estimate"]), float(row["std_error"])
    out.df = int(res.df)
    out.n_participants, out.n_used = int(res.n_effective), int(res.n_used)
    out.scale = res.scale
    if not (math.isfinite(out.std_error) and out.std_error > 0 and out.df > 0):
        out.error = "no standard error (too few participants or no variation)"
        return out
    out.p_value, out.ci_lower, out.ci_upper = directional(
        out.estimate, out.std_error, out.df, h.direction, alpha
    )
    return out


def evaluate_hypotheses(plan: AnalysisPlan, frame: pd.DataFrame) -> list[HypothesisResult]:
    """Every hypothesis tested, the primary family adjusted as the plan says."""
    from statsmodels.stats.multitest import multipletests

    results = [evaluate_hypothesis(plan, h, frame) for h in plan.hypotheses]
    primary = [r for r in results if r.hypothesis.role == "primary"]
    if primary and plan.multiplicity != "none":
        raw = np.array([r.p_value if math.isfinite(r.p_value) else 1.0 for r in primary])
        adjusted = multipletests(raw, alpha=primary[0].alpha, method=plan.multiplicity)[1]
        for r, p in zip(primary, adjusted, strict=True):
            r.p_adjusted = float(p) if math.isfinite(r.p_value) else math.nan
            r.adjustment = f"{plan.multiplicity} over {len(primary)} primary"
    for r in results:
        if r.adjustment == "none":
            r.p_adjusted = r.p_value
        if math.isfinite(r.p_adjusted):
            r.supported = bool(r.p_adjusted < r.alpha)
    return results


# --------------------------------------------------------------------------- robustness
@dataclass
class RedrawResult:
    """The re-drawn randomization check of one hypothesis's term."""

    hypothesis: str
    draws: int
    seed: int
    share_significant: float
    randomization_p: float  # in the hypothesis's direction
    estimate: float
    null_estimates: np.ndarray = field(repr=False)
    error: str = ""


def redraw_check(
    plan: AnalysisPlan,
    h: Hypothesis,
    frame: pd.DataFrame,
    draws: int,
    seed: int,
    progress: Callable[[int, int], bool | None] | None = None,
) -> RedrawResult:
    """Re-run ``h``'s analysis ``draws`` times with the arms re-drawn (seeded).

    Share significant: two-sided at ``h``'s alpha, as :mod:`labmrt.analysis.robustness`
    reports it; randomization p: share of re-drawn estimates at least as extreme
    as the observed one in the hypothesis's direction (``|.|`` for ``!=0``).
    """
    from labmrt.analysis.robustness import design_from_analysis, randomization_test

    alpha = h.alpha if h.alpha is not None else plan.alpha
    try:
        coded, term = coded_frame(frame, h)
        method, kw = hypothesis_kwargs(plan, h)
        kw.pop("conf_level")
        small = kw.pop("small_sample", "auto" if method == "wcls" else "always")
        kw.pop("treatment")
        kw.pop("rand_prob")
        design = design_from_analysis(coded, estimator=method, small_sample=small, **kw)
        res = randomization_test(design, draws, seed=seed, alpha=alpha, progress=progress)
        t = next(t for t in res.terms if t.name == term)
    except (LabmrtError, StopIteration) as err:
        msg = err.message if isinstance(err, LabmrtError) else f"no term {term!r}"
        return RedrawResult(h.id, draws, seed, math.nan, math.nan, math.nan, np.empty(0), msg)
    null, obs = t.null_estimates, t.estimate
    tol = 1e-12 * max(1.0, abs(obs))
    if h.direction == ">0":
        extreme = np.sum(null >= obs - tol)
    elif h.direction == "<0":
        extreme = np.sum(null <= obs + tol)
    else:
        extreme = np.sum(np.abs(null) >= abs(obs) - tol)
    return RedrawResult(
        h.id,
        res.draws_done,
        seed,
        t.share_significant,
        float((1 + extreme) / (1 + null.size)),
        obs,
        null,
    )


@dataclass
class VariantResult:
    """``h`` re-tested on another outcome, a subset of rows, or per-protocol."""

    hypothesis: str
    variant: str
    kind: str  # "alternative outcome", "subset", "per-protocol"
    result: HypothesisResult


def variant_checks(plan: AnalysisPlan, h: Hypothesis, frame: pd.DataFrame) -> list[VariantResult]:
    """The pre-registered alternative outcomes, subsets and per-protocol re-run of ``h``."""
    from labmrt.analysis.robustness import apply_subset

    rb = plan.robustness
    if rb is None:
        return []
    out = []
    for alt in rb.alternative_outcomes.get(h.outcome, []):
        alt_h = h.model_copy(update={"outcome": alt})
        out.append(
            VariantResult(
                h.id,
                f"outcome {alt}",
                "alternative outcome",
                evaluate_hypothesis(plan, alt_h, frame),
            )
        )
    for expr in rb.subsets:
        try:
            part = apply_subset(frame, expr)
        except LabmrtError as err:
            failed = HypothesisResult(h, h.alpha or plan.alpha, error=err.message)
            out.append(VariantResult(h.id, expr, "subset", failed))
            continue
        out.append(VariantResult(h.id, expr, "subset", evaluate_hypothesis(plan, h, part)))
    if rb.per_protocol and not plan.per_protocol:
        pp = plan.model_copy(update={"per_protocol": True})
        out.append(
            VariantResult(
                h.id, "received framings only", "per-protocol", evaluate_hypothesis(pp, h, frame)
            )
        )
    return out


def robustness_hypotheses(plan: AnalysisPlan) -> list[Hypothesis]:
    """The hypotheses the robustness checks cover: those named, else the primary proximal ones
    (the checks re-run WCLS/EMEE analyses)."""
    if plan.robustness is None:
        return []
    ids = plan.robustness.hypotheses
    if ids is None:
        return [h for h in plan.hypotheses if h.role == "primary" and not h.is_distal(plan.method)]
    return [plan.hypothesis(i) for i in ids]
