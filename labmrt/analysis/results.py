"""The result of a causal excursion effect analysis: tables, summary, JSON, plot.

One object feeds the text summary, the CLI JSON and the plot, so they cannot
disagree. Inference is t-based with the analysis's degrees of freedom: for
WCLS ``n_effective - p - q`` (MRTAnalysis ``wcls()``: participants with
weight, minus all coefficients), for EMEE ``n_participants - p - q``
(MRTAnalysis ``emee()`` counts every participant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem

TABLE_COLUMNS = ["estimate", "std_error", "ci_lower", "ci_upper", "statistic", "p_value", "df"]


def t_inference(estimate: np.ndarray, se: np.ndarray, df: int, conf_level: float) -> pd.DataFrame:
    """Estimate, SE, two-sided t CI and p-value; ``statistic`` is the t value."""
    from scipy import stats  # on use: importing it takes most of a second

    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    crit = stats.t.isf((1 - conf_level) / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
    return pd.DataFrame(
        {
            "estimate": estimate,
            "std_error": se,
            "ci_lower": estimate - crit * se,
            "ci_upper": estimate + crit * se,
            "statistic": t,
            "p_value": 2 * stats.t.sf(np.abs(t), df),
            "df": np.full(estimate.shape, df, dtype=int),
        }
    )


def lincomb_name(weights: Sequence[float], names: Sequence[str]) -> str:
    """``(Intercept) + is_at_home_or_work``, ``2*a - b``: the reference package's naming."""
    text = ""
    for c, name in zip(weights, names, strict=True):
        c = float(c)
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else f"{abs(c):g}*"
        if c > 0:
            text = f"{text} + {mag}{name}" if text else f"{mag}{name}"
        else:
            text = f"{text} - {mag}{name}" if text else f"-{mag}{name}"
    return text or "0"


@dataclass
class EffectResult:
    """Causal excursion effect estimates with their covariance and inference.

    ``params`` and the covariance matrices are in design order: the control
    (working-model) coefficients first, then the effect coefficients.
    ``cov`` is the covariance used for inference; ``cov_uncorrected`` the
    plain sandwich and ``cov_corrected`` the Mancl-DeRouen one.
    """

    method: str
    params: np.ndarray
    cov_used: np.ndarray
    cov_plain: np.ndarray
    corrected_fn: object = field(repr=False, default=None)
    small_sample_applied: bool = False
    control_names: list[str] = field(default_factory=list)
    effect_names: list[str] = field(default_factory=list)
    design_names: list[str] = field(default_factory=list)
    df: int = 0
    n_participants: int = 0
    n_effective: int = 0
    n_decision_points: int = 0
    n_used: int = 0
    conf_level: float = 0.95
    outcome: str = ""
    treatment: str = ""
    rand_prob: str = ""
    numerator_prob: str = "0.5"
    analysis: str = "intent-to-treat"
    scale: str = "additive"
    contrast: dict | None = None
    notes: list[str] = field(default_factory=list)
    factor_levels: dict[str, list] = field(default_factory=dict)
    term_sources: dict[str, tuple[str, object]] = field(default_factory=dict)
    moderator_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    moderator_values: dict[str, list[float]] = field(default_factory=dict)
    iterations: int | None = None
    _cov_corrected: np.ndarray | None = field(default=None, repr=False)

    # ---- coefficients and covariance
    @property
    def q(self) -> int:
        return len(self.control_names)

    @property
    def p(self) -> int:
        return len(self.effect_names)

    def _frame(self, m: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(m, index=self.design_names, columns=self.design_names)

    @property
    def cov(self) -> pd.DataFrame:
        """The covariance used for inference (corrected when the correction applies)."""
        return self._frame(self.cov_used)

    @property
    def cov_uncorrected(self) -> pd.DataFrame:
        return self._frame(self.cov_plain)

    @property
    def cov_corrected(self) -> pd.DataFrame:
        """The Mancl-DeRouen corrected covariance (computed on first use if not applied)."""
        if self._cov_corrected is None:
            if self.small_sample_applied:
                self._cov_corrected = self.cov_used
            else:
                self._cov_corrected = self.corrected_fn()  # type: ignore[operator]
        return self._frame(self._cov_corrected)

    @property
    def bse(self) -> pd.Series:
        """Standard errors of every coefficient (design order), from the covariance used."""
        return pd.Series(np.sqrt(np.diag(self.cov_used)), index=self.design_names)

    @property
    def vcov(self) -> pd.DataFrame:
        """The covariance used for inference (statsmodels' name for it)."""
        return self.cov

    def conf_int(self, conf_level: float | None = None) -> pd.DataFrame:
        """t confidence intervals of every coefficient (design order), at the result's level."""
        from scipy import stats  # on use: importing it takes most of a second

        level = self.conf_level if conf_level is None else float(conf_level)
        crit = stats.t.isf((1 - level) / 2, self.df)
        se = self.bse.to_numpy()
        return pd.DataFrame(
            {"lower": self.params - crit * se, "upper": self.params + crit * se},
            index=self.design_names,
        )

    @property
    def effect_params(self) -> pd.Series:
        return pd.Series(self.params[self.q :], index=self.effect_names)

    @property
    def effect_cov(self) -> np.ndarray:
        return self.cov_used[self.q :, self.q :]

    def _table(self, sl: slice, names: list[str]) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.cov_used)[sl])
        tab = t_inference(self.params[sl], se, self.df, self.conf_level)
        tab.index = pd.Index(names, name="term")
        return tab

    @property
    def table(self) -> pd.DataFrame:
        """The causal excursion effect terms, intercept (marginal effect) first, then moderators."""
        return self._table(slice(self.q, None), self.effect_names)

    @property
    def control_table(self) -> pd.DataFrame:
        """Working-model (control) coefficients; not causal, not for interpretation."""
        return self._table(slice(0, self.q), self.control_names)

    # ---- linear combinations
    def lincomb(self, weights: Sequence[float] | np.ndarray, *, rule: str = "t") -> pd.DataFrame:
        """Linear combinations of the effect coefficients (rows of ``weights``, length p).

        ``rule="t"`` (labmrt): two-sided t inference with the analysis's df,
        the same as for a single coefficient. ``rule="mrtanalysis"`` repeats
        MRTAnalysis ``summary.wcls_fit(lincomb=)``: an F statistic
        ``est^2/var`` with ``df1`` = number of non-zero weights and
        ``df2 = n - p - q``, scaled by ``df1 (df1 + df2 - 1) / df2`` when
        n <= 50 (its "Hotelling" rule); for one coefficient both rules agree.
        """
        lw = np.atleast_2d(np.asarray(weights, dtype=float))
        if lw.shape[1] != self.p:
            raise LabmrtError(
                Problem(
                    "lincomb",
                    f"needs {self.p} weights (one per effect term: "
                    f"{', '.join(self.effect_names)}), got {lw.shape[1]}",
                )
            )
        est = lw @ self.params[self.q :]
        var = np.einsum("ij,jk,ik->i", lw, self.effect_cov, lw)
        se = np.sqrt(var)
        names = [lincomb_name(row, self.effect_names) for row in lw]
        if rule == "t":
            tab = t_inference(est, se, self.df, self.conf_level)
        elif rule == "mrtanalysis":
            if self.method != "wcls":
                raise LabmrtError(Problem("lincomb", "rule 'mrtanalysis' is for WCLS fits"))
            tab = self._mrtanalysis_lincomb(lw, est, se)
        else:
            raise LabmrtError(Problem("lincomb", f"unknown rule {rule!r}", "use 't'"))
        tab.index = pd.Index(names, name="term")
        return tab

    def _mrtanalysis_lincomb(self, lw, est, se) -> pd.DataFrame:
        from scipy import stats  # on use: importing it takes most of a second

        d1 = np.count_nonzero(lw, axis=1)
        d2 = self.n_effective - self.p - self.q
        adj = d1 * (d1 + d2 - 1) / d2 if self.n_effective <= 50 else np.ones_like(d1, float)
        crit = np.sqrt(stats.f.ppf(self.conf_level, d1, d2) / adj)
        stat = est**2 / se**2
        return pd.DataFrame(
            {
                "estimate": est,
                "std_error": se,
                "ci_lower": est - crit * se,
                "ci_upper": est + crit * se,
                "statistic": stat,
                "p_value": stats.f.sf(stat * adj, d1, d2),
                "df": np.full(est.shape, d2, dtype=int),
                "df1": d1,
            }
        )

    def effect_at(self, values: dict[str, object]) -> pd.DataFrame:
        """The effect at given moderator values (others at 0 / reference level), with its CI."""
        weights = np.zeros(self.p)
        weights[0] = 1.0
        for j, term in enumerate(self.effect_names[1:], start=1):
            src = self.term_sources.get(term)
            if src is not None:
                col, level = src
                weights[j] = 1.0 if col in values and values[col] == level else 0.0
            elif term in values:
                weights[j] = float(values[term])  # type: ignore[arg-type]
        tab = self.lincomb(weights)
        tab.index = pd.Index([", ".join(f"{k}={v}" for k, v in values.items()) or "marginal"])
        return tab

    # ---- presentation
    def summary(self) -> str:
        from labmrt.analysis.summary_text import render_summary

        return render_summary(self)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self, lincombs: Sequence[Sequence[float]] | None = None) -> dict:
        """Plain JSON-ready dict (the ``labmrt analyze --json`` object)."""

        def rows(tab: pd.DataFrame) -> list[dict]:
            out = []
            for term, r in tab.iterrows():
                rec = {"term": term}
                for col in TABLE_COLUMNS:
                    v = r[col]
                    rec[col] = int(v) if col == "df" else _num(v)
                out.append(rec)
            return out

        d = {
            "method": self.method,
            "scale": self.scale,
            "outcome": self.outcome,
            "treatment": self.treatment,
            "randomization_probability": self.rand_prob,
            "numerator_probability": self.numerator_prob,
            "analysis": self.analysis,
            "protected_by_randomization": self.analysis != "per-protocol",
            "contrast": self.contrast,
            "terms": rows(self.table),
            "controls": rows(self.control_table),
            "n_participants": self.n_participants,
            "n_effective_participants": self.n_effective,
            "n_decision_points": self.n_decision_points,
            "n_used_decision_points": self.n_used,
            "df": self.df,
            "conf_level": self.conf_level,
            "small_sample_correction": self.small_sample_applied,
            "covariance": {
                "names": self.design_names,
                "used": self.cov_used.tolist(),
                "uncorrected": self.cov_plain.tolist(),
            },
            "notes": list(self.notes),
        }
        if lincombs:
            d["lincomb"] = rows(self.lincomb(lincombs))
        return d

    def plot_effect(self, path: str | Path | None = None, moderator: str | None = None):
        """The effect by moderator level (categorical) or over its range (numeric), with CIs.

        Returns the matplotlib Figure (Agg canvas, no GUI); saves it when
        ``path`` is given.
        """
        from labmrt.analysis.plot import plot_effect

        return plot_effect(self, path=path, moderator=moderator)


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None
