"""The result of a distal (dcee) or mediated (mcee) analysis.

It is an :class:`~labmrt.analysis.results.EffectResult` without control
(working-model) coefficients: ``params`` are the effect terms only (dcee:
the distal excursion effect and its moderators; mcee: the natural direct
effect terms, then the natural indirect ones), so ``table``, ``lincomb``,
``cov`` and the JSON terms work as for WCLS. Inference is t with the
estimator's degrees of freedom (dcee: participants - p, mcee: participants
- 2p) and no small-sample correction, as MRTAnalysis computes them. What
differs is what is reported besides: the learner, the stage-1 regressions'
coefficients and sizes, and the analysis's own notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labmrt.analysis.results import EffectResult
from labmrt.analysis.summary_text import WIDTH, _table, _two_cols

TITLES = {
    "dcee": "Distal causal excursion effect (DCEE, additive scale)",
    "mcee": "Mediated causal excursion effects (MCEE: natural direct / indirect)",
}
# Fields of EffectResult.to_dict that mean nothing for a distal analysis.
_NOT_REPORTED = (
    "numerator_probability",
    "contrast",
    "controls",
    "n_effective_participants",
    "n_used_decision_points",
)


def distal_result(
    method: str,
    inp,
    params,
    cov,
    names: list[str],
    df: int,
    conf_level: float,
    *,
    learner: str,
    notes: list[str],
    stage1: dict[str, dict],
    extra: dict,
    mediator: str | None = None,
    weights: str | None = None,
) -> DistalResult:
    """The result of a distal analysis on checked input ``inp`` (a ``DistalInput``)."""
    return DistalResult(
        method=method,
        params=params,
        cov_used=cov,
        cov_plain=cov,
        control_names=[],
        effect_names=names,
        design_names=names,
        df=df,
        n_participants=inp.n_participants,
        n_effective=inp.n_participants,
        n_decision_points=inp.n_rows,
        n_used=int((inp.avail == 1).sum()),
        conf_level=conf_level,
        outcome=inp.labels["outcome"],
        treatment=inp.labels["treatment"],
        rand_prob=inp.labels["rand_prob"],
        numerator_prob="",
        scale="additive (distal outcome)",
        notes=notes,
        learner=learner,
        mediator=mediator,
        weights=weights,
        stage1=stage1,
        extra=extra,
    )


@dataclass
class DistalResult(EffectResult):
    """Distal / mediated excursion effects with their stage-1 diagnostics."""

    learner: str = ""
    mediator: str | None = None
    weights: str | None = None
    stage1: dict[str, dict] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self, lincombs: Sequence[Sequence[float]] | None = None) -> dict:
        d = super().to_dict(lincombs)
        for key in _NOT_REPORTED:
            d.pop(key, None)
        d["covariance"].pop("uncorrected", None)
        d["scale"] = self.scale
        d["learner"] = self.learner
        if self.mediator is not None:
            d["mediator"] = self.mediator
        d["weights"] = self.weights
        d["stage1"] = self.stage1
        d.update(self.extra)
        return d

    def summary(self) -> str:
        left = [
            ("Distal outcome:", self.outcome),
            ("Treatment:", self.treatment),
            ("Learner (stage 1):", self.learner),
            ("Variance:", "cluster sandwich"),
        ]
        if self.mediator is not None:
            left.insert(2, ("Mediator:", self.mediator))
        right = [
            ("Participants:", str(self.n_participants)),
            ("Decision points:", str(self.n_decision_points)),
            ("Small-sample corr.:", "none"),
            ("Df (t tests):", str(self.df)),
        ]
        lines = [TITLES[self.method].center(WIDTH), "=" * WIDTH, *_two_cols(left, right)]
        if self.rand_prob:
            lines.append(f"{'Randomization prob.:':<22}{self.rand_prob}")
        if self.weights:
            lines.append(f"{'Weights:':<22}{self.weights}")
        lines.append("=" * WIDTH)
        if self.method == "mcee":
            p = self.p // 2
            tab = self.table
            lines.append("Natural direct excursion effect (NDEE, alpha)")
            lines += _table(tab.iloc[:p], self.conf_level)
            lines.append("Natural indirect excursion effect (NIEE, beta)")
            lines += _table(tab.iloc[p:], self.conf_level)
        else:
            lines.append("Distal excursion effect (intercept = effect at moderators 0)")
            lines += _table(self.table, self.conf_level)
        lines.append("=" * WIDTH)
        for name, fit in self.stage1.items():
            coef = ", ".join(
                f"{k} {v:.4g}" if v is not None else f"{k} NA"
                for k, v in fit.get("coefficients", {}).items()
            )
            lines.append(f"stage 1 {name} ({fit['family']}, n = {fit['n_obs']}): {coef}")
        for i, note in enumerate(self.notes, start=1):
            lines.append(f"[{i}] {note}")
        return "\n".join(lines)
