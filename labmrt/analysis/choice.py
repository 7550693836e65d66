"""One analysis as an analyst picks it in the analysis view: columns by name, fitted, checked.

An :class:`AnalysisChoice` names only columns of the decision-point table
(the lists come from the export's codebook, :mod:`labmrt.export.analysis_data`);
:func:`run_analysis` fits it with :func:`~labmrt.analysis.wcls` or
:func:`~labmrt.analysis.emee`, :func:`effect_curve` reads the effect along a
single moderator off the result, and :func:`run_randomization_check` re-draws
the treatment (:mod:`labmrt.analysis.robustness`). The view calls them on a
worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from labmrt.analysis.api import emee, wcls
from labmrt.analysis.robustness import design_from_analysis, randomization_test


class AnalysisTable(Protocol):
    """What an analysis reads of the loaded data (a :class:`labmrt.export.AnalysisData`)."""

    frame: pd.DataFrame
    baseline: str | None


@dataclass
class AnalysisChoice:
    """What the analyst picked; everything names a column of the decision-point table."""

    method: str
    outcome: str
    treatment_arm: str
    control_arms: tuple[str, ...] | None
    moderators: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    numerator_prob: float | None = None
    per_protocol: bool = False

    @property
    def contrast_label(self) -> str:
        versus = " + ".join(self.control_arms) if self.control_arms else "all other arms"
        return f"{self.treatment_arm} vs {versus}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "outcome": self.outcome,
            "contrast": self.contrast_label,
            "treatment_arm": self.treatment_arm,
            "control_arms": list(self.control_arms) if self.control_arms else None,
            "moderators": list(self.moderators),
            "controls": list(self.controls),
            "numerator_prob": self.numerator_prob,
            "analysis": "per-protocol" if self.per_protocol else "intent-to-treat",
        }


@dataclass
class AnalysisOutcome:
    """The result shown and saved: an effect table plus what produced it."""

    choice: AnalysisChoice
    table: pd.DataFrame
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    curve: pd.DataFrame | None = None  # moderator value, estimate, ci_lower, ci_upper
    result: Any = None  # the analyzer's EffectResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice.to_dict(),
            "effects": json.loads(self.table.to_json(orient="records")),
            "summary": self.summary,
            "result": self.details,
        }


def analysis_kwargs(data: AnalysisTable, choice: AnalysisChoice) -> dict[str, Any]:
    """The keyword arguments of :func:`labmrt.analysis.wcls` / ``emee`` for ``choice``."""
    versus = "+".join(choice.control_arms) if choice.control_arms else "rest"
    return dict(
        id="participant",
        outcome=choice.outcome,
        moderators=list(choice.moderators),
        controls=list(choice.controls),
        availability="available",
        numerator_prob=choice.numerator_prob,
        contrast=f"{choice.treatment_arm}-vs-{versus}",
        baseline=data.baseline,
        per_protocol=choice.per_protocol,
    )


def run_analysis(data: AnalysisTable, choice: AnalysisChoice) -> AnalysisOutcome:
    """Fit the chosen analysis with the bundled analyzer (worker thread)."""
    fit = emee if choice.method == "emee" else wcls
    result = fit(data.frame, **analysis_kwargs(data, choice))
    table = result.table.reset_index(names="term")
    return AnalysisOutcome(
        choice,
        table,
        result.summary(),
        details=result.to_dict(),
        curve=effect_curve(result),
        result=result,
    )


def effect_curve(result: Any) -> pd.DataFrame | None:
    """Effect (with its CI) at each level of a categorical moderator, or over a numeric one's range.

    Only for a single moderator; ``EffectResult.effect_at`` does the linear combination
    and its interval, so the curve is exactly what the analyzer reports.
    """
    columns = []
    for term in result.effect_names[1:]:
        col = result.term_sources.get(term, (term, None))[0]
        if col not in columns:
            columns.append(col)
    if len(columns) != 1:
        return None
    name = columns[0]
    if name in result.factor_levels:
        points = [(str(level), {name: level}) for level in result.factor_levels[name]]
    else:
        lo, hi = result.moderator_ranges.get(name, (0.0, 1.0))
        values = result.moderator_values.get(name) or list(np.linspace(lo, hi, 25))
        points = [(float(v), {name: float(v)}) for v in values]
    rows = []
    for x, at in points:
        row = result.effect_at(at).iloc[0]
        rows.append(
            {
                name: x,
                "estimate": row["estimate"],
                "ci_lower": row["ci_lower"],
                "ci_upper": row["ci_upper"],
            }
        )
    return pd.DataFrame(rows)


def run_randomization_check(data: AnalysisTable, choice: AnalysisChoice, draws: int, control):
    """The re-draw check (worker thread); stops early when ``control`` is cancelled."""
    design = design_from_analysis(
        data.frame,
        estimator="emee" if choice.method == "emee" else "wcls",
        **analysis_kwargs(data, choice),
    )
    return randomization_test(design, draws, seed=1, progress=control.progress)


def save_effect_plot(outcome: AnalysisOutcome, path: Path) -> Path:
    """The analyzer's effect-by-moderator plot (with confidence intervals) as PNG or SVG."""
    outcome.result.plot_effect(path)
    return path


def headline(outcome: AnalysisOutcome) -> str:
    """One line above the table: what was fitted on how much data."""
    r = outcome.result
    kind = "EMEE (log relative risk)" if r.method == "emee" else "WCLS (additive)"
    return (
        f"{kind}: {r.outcome}, {outcome.choice.contrast_label}, {r.analysis}; "
        f"{r.n_effective} participants, {r.n_used} of {r.n_decision_points} decision points "
        f"used, {r.df} df. Full summary below."
    )
