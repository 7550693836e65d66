"""Time-varying standardized proximal effect size of a continuous outcome.

Luers et al. (2019, Prevention Science, doi:10.1007/s11121-017-0862-5) as
MRTAnalysis 0.4 ``calculate_mrt_effect_size()`` generalizes it:

1. at each decision point t, the effect ``b(t)``: the treatment coefficient
   of the least-squares fit of the outcome on ``(1, A, covariates)`` over the
   available participants, weighted by ``1/p`` (treated) and ``1/(1 - p)``
   (not treated), so that covariates improve precision without changing the
   estimand;
2. the scale ``s(t)``: the pooled standard deviation of the outcome in the two
   arms (each arm's variance weighted by the same inverse probabilities, with
   the unbiased reliability-weight denominator ``sum w - sum w^2 / sum w``,
   pooled with ``n_arm - 1`` factors); not the residual standard error,
   which would mix treatment efficacy with the outcome's predictability;
3. both series smoothed over decision points by local linear regression
   (LOESS, degree 1, tricube weights on the nearest ``span`` share of the
   decision points, evaluated exactly at every point; statsmodels' lowess
   without robustness iterations), and ``d(t) = b~(t) / s~(t)``;
4. a percentile confidence interval from a participant bootstrap
   (participants drawn with replacement, seeded).

The smoother is linear in the series, so it is applied as one T x T matrix
to every bootstrap replicate; the replicates' weighted sums come from one
matrix product of the bootstrap counts with the per-participant sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis.design import ColumnOrValue, RowLabels, describe_rows, require_columns
from labmrt.analysis.distal import _conf, read_data
from labmrt.analysis.distal_input import numeric_column, require_given
from labmrt.errors import LabmrtError, Problem

# Bootstrap replicates summed in one matrix product (bounds the temporary array).
_CHUNK = 256


@dataclass
class EffectSizeResult:
    """The standardized effect by decision point, with its bootstrap interval."""

    table: pd.DataFrame
    outcome: str
    treatment: str
    covariates: list[str]
    n_participants: int
    smooth: bool
    span: float
    bootstrap: int
    seed: int
    conf_level: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        rows = []
        for rec in self.table.to_dict("records"):
            rows.append({k: _num(v) for k, v in rec.items()})
        est = self.table["estimate"].to_numpy()
        return {
            "method": "effect_size",
            "outcome": self.outcome,
            "treatment": self.treatment,
            "covariates": self.covariates,
            "n_participants": self.n_participants,
            "n_decision_points": int(len(self.table)),
            "smooth": self.smooth,
            "span": self.span,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "conf_level": self.conf_level,
            "mean_estimate": _num(np.nanmean(est)) if np.isfinite(est).any() else None,
            "decision_points": rows,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        tab = self.table
        est = tab["estimate"].to_numpy()
        lines = [
            "Standardized proximal effect size by decision point (Luers et al. 2019)",
            f"outcome {self.outcome}, treatment {self.treatment}, covariates "
            f"{', '.join(self.covariates) or 'none'}; {self.n_participants} participants, "
            f"{len(tab)} decision points",
            f"smoothing: {'local linear, span ' + format(self.span, 'g') if self.smooth else 'none'}"
            f"; bootstrap: {self.bootstrap} replicates (seed {self.seed}), "
            f"{round(100 * self.conf_level)}% percentile intervals",
        ]
        if np.isfinite(est).any():
            i_min, i_max = int(np.nanargmin(est)), int(np.nanargmax(est))
            t = tab["decision_point"].to_numpy()
            lines.append(
                f"mean {np.nanmean(est):.4f}; min {est[i_min]:.4f} at {t[i_min]:g}; "
                f"max {est[i_max]:.4f} at {t[i_max]:g}"
            )
        cols = ["decision_point", "estimate", "ci_lower", "ci_upper", "effect", "sd"]
        lines.append(tab[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        lines += [f"[{i}] {n}" for i, n in enumerate(self.notes, start=1)]
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None):
        """The standardized effect over decision points with its interval (Agg canvas)."""
        from labmrt.analysis.plot import agg_figure, save_figure

        tab = self.table
        fig = agg_figure((6.4, 3.8))
        ax = fig.add_subplot(1, 1, 1)
        t = tab["decision_point"].to_numpy()
        ax.plot(t, tab["estimate"], color="#1565c0", lw=1.6, label="standardized effect")
        if self.bootstrap:
            ax.fill_between(
                t,
                tab["ci_lower"],
                tab["ci_upper"],
                color="#1565c0",
                alpha=0.2,
                lw=0,
                label=f"{round(100 * self.conf_level)}% bootstrap CI",
            )
        if self.smooth:
            raw = tab["effect_raw"] / tab["sd_raw"]
            ax.plot(t, raw, "o", ms=2.5, color="#9e9e9e", label="unsmoothed b(t) / s(t)")
        ax.axhline(0, color="#616161", lw=0.8, ls="--")
        ax.set_xlabel("decision point")
        ax.set_ylabel("standardized effect d(t)")
        ax.set_title(f"{self.treatment}: {self.outcome}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        foot = f"{self.n_participants} participants"
        if self.smooth:
            foot += f"; local linear smoothing, span {self.span:g}"
        if self.bootstrap:
            foot += f"; {self.bootstrap} participant bootstrap replicates, seed {self.seed}"
        fig.text(0.01, 0.01, foot, fontsize=7, color="#424242")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        if path is not None:
            save_figure(fig, path)
        return fig


def _num(v) -> float | int | None:
    if isinstance(v, int | np.integer):
        return int(v)
    v = float(v)
    return v if np.isfinite(v) else None


def smoother_matrix(x: np.ndarray, span: float) -> np.ndarray:
    """The T x T local linear (LOESS degree 1) smoother at the points ``x`` (sorted, distinct)."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    eye = np.eye(x.size)
    cols = [
        lowess(eye[j], x, frac=span, it=0, delta=0.0, return_sorted=False) for j in range(x.size)
    ]
    return np.column_stack(cols)


def _smooth(series: np.ndarray, x: np.ndarray, mat: np.ndarray, span: float) -> np.ndarray:
    """Smooth each row of ``series``; a row with gaps is smoothed on its finite points."""
    out = series @ mat.T
    gaps = ~np.isfinite(series).all(axis=1)
    if gaps.any():
        from statsmodels.nonparametric.smoothers_lowess import lowess

        for i in np.flatnonzero(gaps):
            ok = np.isfinite(series[i])
            if ok.sum() < 3:
                out[i] = np.nan
                continue
            out[i] = lowess(
                series[i, ok], x[ok], frac=span, it=0, delta=0.0, xvals=x, return_sorted=False
            )
    return out


def _statistics(sums: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``b(t)`` and ``s(t)`` from the summed moments (leading axes: replicate, decision point)."""
    kk = k * k
    gram = sums[..., :kk].reshape(*sums.shape[:-1], k, k)
    rhs = sums[..., kk : kk + k]
    lead = gram.shape[:-2]
    gflat, rflat = gram.reshape(-1, k, k), rhs.reshape(-1, k)
    b = np.full(gflat.shape[0], np.nan)
    # A decision point with a singular fit (no one treated, a constant covariate) gets NaN.
    good = np.linalg.cond(gflat) < 1e12
    if good.any():
        b[good] = np.linalg.solve(gflat[good], rflat[good][..., None])[:, 1, 0]
    b = b.reshape(lead)
    arms = sums[..., kk + k :].reshape(*lead, 2, 5)
    count, sw, sw2, swy, swyy = (arms[..., j] for j in range(5))
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (swyy - swy**2 / sw) / (sw - sw2 / sw)
        pooled = ((count - 1) * var).sum(axis=-1) / (count.sum(axis=-1) - 2)
    var_ok = np.all(count >= 2, axis=-1)
    sd = np.where(var_ok & (pooled > 0), np.sqrt(np.where(pooled > 0, pooled, 1.0)), np.nan)
    return b, sd


def effect_size(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    availability: str | None = None,
    decision_point: str | None = None,
    covariates: Sequence[str] = (),
    *,
    smooth: bool = True,
    span: float = 0.25,
    bootstrap: int = 1000,
    seed: int = 0,
    conf_level: float = 0.95,
) -> EffectSizeResult:
    """The standardized proximal effect ``d(t)`` by decision point, with a bootstrap CI."""
    from labmrt.analysis.design import fill_terms, plan_terms

    conf_level = _conf(conf_level)
    frame = read_data(data)
    if decision_point is None and "decision_point" in frame.columns:
        decision_point = "decision_point"
    require_given(
        {
            "outcome": outcome,
            "treatment": treatment,
            "decision point": decision_point,
            "randomization probability": rand_prob,
        }
    )
    if not 0 < span <= 1:
        raise LabmrtError(Problem("span", f"must lie in (0, 1], got {span:g}", "e.g. 0.25"))
    if bootstrap < 0:
        raise LabmrtError(Problem("bootstrap", "must be 0 (no interval) or more replicates"))
    covariates = list(dict.fromkeys(covariates))
    needed = {id: "participant id", outcome: "outcome", treatment: "treatment"}
    needed[decision_point] = "decision point"
    if isinstance(rand_prob, str):
        needed.setdefault(rand_prob, "randomization probability")
    if availability is not None:
        needed.setdefault(availability, "availability")
    for c in covariates:
        needed.setdefault(c, "covariate")
    require_columns(frame, needed)
    n = len(frame)
    if n == 0:
        raise LabmrtError(Problem("data", "has no rows", "check the file"))
    ids = frame[id].to_numpy()
    t_col = numeric_column(frame, decision_point, "decision point")
    where = RowLabels(np.arange(n), ids, t_col)
    avail = (
        np.ones(n, dtype=bool)
        if availability is None
        else numeric_column(frame, availability, "availability") == 1
    )
    a = numeric_column(frame, treatment, "treatment")
    y = numeric_column(frame, outcome, "outcome")
    prob = (
        numeric_column(frame, rand_prob, "randomization probability")
        if isinstance(rand_prob, str)
        else np.full(n, float(rand_prob))
    )
    for values, what in ((t_col, "decision point"), (a, "treatment"), (y, "outcome")):
        bad = avail & ~np.isfinite(values)
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"{what} {needed_name(needed, what)!r}",
                    "missing at available decision point(s): " + describe_rows(bad, where),
                    "fill in the values, or mark those decision points unavailable",
                )
            )
    bad = avail & ~np.isin(a, (0.0, 1.0))
    if bad.any():
        raise LabmrtError(
            Problem(
                f"treatment {treatment!r}",
                "must be 0 or 1 at available decision points: " + describe_rows(bad, where),
                "code the treatment as 1 = treated, 0 = not",
            )
        )
    bad = avail & ~((prob > 0) & (prob < 1))
    if bad.any():
        raise LabmrtError(
            Problem(
                f"randomization probability {rand_prob!r}",
                "must lie strictly between 0 and 1 at available decision points: "
                + describe_rows(bad, where),
                "record the probability actually used",
            )
        )
    plans, names, _, _ = plan_terms(frame, covariates, avail, "covariate")
    zmat = np.empty((n, len(names)), order="F")
    missing = fill_terms(zmat, plans, avail, None)
    if missing:
        rows = np.isnan(zmat[:, missing]).any(axis=1)
        raise LabmrtError(
            Problem(
                "covariate " + ", ".join(repr(names[j]) for j in missing),
                "missing at available decision point(s): " + describe_rows(rows, where),
                "fill in the values",
            )
        )
    # Available rows only, as (decision point, participant) cells.
    rows = np.flatnonzero(avail)
    times, t_index = np.unique(t_col[rows], return_inverse=True)
    p_codes, participants = pd.factorize(pd.Series(ids), sort=False)
    n_part = participants.size
    nt = times.size
    cell = p_codes[rows] * nt + t_index
    dup = np.zeros(rows.size, dtype=bool)
    dup[np.argsort(cell, kind="stable")[1:][np.diff(np.sort(cell)) == 0]] = True
    if dup.any():
        r0 = rows[np.flatnonzero(dup)[0]]
        raise LabmrtError(
            Problem(
                f"decision point {decision_point!r}",
                f"{int(dup.sum()) + 1} rows of participant {ids[r0]} at decision point "
                f"{t_col[r0]:g} (again at {describe_rows(dup_mask(rows[dup], n), where)})",
                "keep one row per participant and decision point",
            )
        )
    if smooth and int(span * nt + 1e-10) < 3:
        raise LabmrtError(
            Problem(
                "span",
                f"{span:g} of {nt} decision points is fewer than 3 points per local fit",
                f"raise --span to at least {3 / nt:.2f}, or use --no-smooth",
            )
        )
    ar, yr, pr = a[rows], y[rows], prob[rows]
    x = np.column_stack([np.ones(rows.size), ar, zmat[rows, 1:]])
    k = x.shape[1]
    w = np.where(ar == 1, 1.0 / pr, 1.0 / (1.0 - pr))
    arm_parts = []
    for arm in (1.0, 0.0):
        ind = (ar == arm).astype(float)
        wa = w * ind
        arm_parts.append(np.column_stack([ind, wa, wa * w, wa * yr, wa * yr**2]))
    moments = np.hstack(
        [
            (w[:, None, None] * x[:, :, None] * x[:, None, :]).reshape(rows.size, k * k),
            w[:, None] * x * yr[:, None],
            *arm_parts,
        ]
    )
    width = moments.shape[1]
    # Per (participant, decision point) sums: the bootstrap reweights whole participants.
    per_cell = np.zeros((n_part * nt, width))
    np.add.at(per_cell, cell, moments)
    per_cell = per_cell.reshape(n_part, nt * width)
    total = per_cell.sum(axis=0).reshape(1, nt, width)
    b_raw, sd_raw = _statistics(total, k)
    b_raw, sd_raw = b_raw[0], sd_raw[0]
    mat = smoother_matrix(times, span) if smooth else None

    def standardized(b: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, ...]:
        if mat is None:
            return b / sd, b, sd
        bs, ss = _smooth(b, times, mat, span), _smooth(sd, times, mat, span)
        return bs / ss, bs, ss

    d_hat, b_s, sd_s = standardized(b_raw[None, :], sd_raw[None, :])
    lo = hi = np.full(nt, np.nan)
    notes: list[str] = []
    if bootstrap:
        rng = np.random.default_rng(seed)
        reps = []
        for start in range(0, bootstrap, _CHUNK):
            size = min(_CHUNK, bootstrap - start)
            draws = rng.integers(0, n_part, size=(size, n_part))
            counts = np.zeros((size, n_part))
            np.add.at(counts, (np.repeat(np.arange(size), n_part), draws.ravel()), 1.0)
            sums = (counts @ per_cell).reshape(size, nt, width)
            bb, ss = _statistics(sums, k)
            reps.append(standardized(bb, ss)[0])
        boot = np.vstack(reps)
        alpha = 1 - conf_level
        with np.errstate(invalid="ignore"):
            lo = np.nanquantile(boot, alpha / 2, axis=0)
            hi = np.nanquantile(boot, 1 - alpha / 2, axis=0)
        undefined = int(np.count_nonzero(~np.isfinite(boot)))
        if undefined:
            notes.append(
                f"{undefined} bootstrap value(s) undefined (a resample without treated or "
                "untreated participants at a decision point) were left out of the intervals"
            )
    counts_t = total[0, :, k * k + k :].reshape(nt, 2, 5)[:, :, 0]
    table = pd.DataFrame(
        {
            "decision_point": times,
            "estimate": d_hat[0],
            "ci_lower": lo,
            "ci_upper": hi,
            "effect": b_s[0],
            "sd": sd_s[0],
            "effect_raw": b_raw,
            "sd_raw": sd_raw,
            "n_available": counts_t.sum(axis=1).astype(int),
            "n_treated": counts_t[:, 0].astype(int),
        }
    )
    if not np.isfinite(b_raw).all():
        gaps = ", ".join(f"{v:g}" for v in times[~np.isfinite(b_raw)][:5])
        notes.append(f"no effect estimable at decision point(s) {gaps} (too few in an arm)")
    return EffectSizeResult(
        table=table,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        n_participants=int(n_part),
        smooth=smooth,
        span=span,
        bootstrap=int(bootstrap),
        seed=int(seed),
        conf_level=conf_level,
        notes=notes,
    )


def dup_mask(rows: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def needed_name(needed: dict[str, str], role: str) -> str:
    return next((c for c, r in needed.items() if r == role), role)
