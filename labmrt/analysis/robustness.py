"""Randomization (re-draw) checks of a WCLS analysis, and re-runs over alternatives.

An effect that is real should survive re-drawing the treatment: re-run the
analysis B times with the arm at every available decision point drawn again
from the randomization probabilities recorded there, everything else kept as
recorded. Under these re-draws the treatment is independent of the outcome by
construction, so about ``alpha`` of the re-drawn analyses should be
significant, and the observed estimate's position in the re-drawn null
distribution is a randomization p-value. A naive shuffle (permuting the
recorded arms over the available decision points, which ignores
context-dependent probabilities) is offered too and labelled as such.

Why it is fast: with the arm at a decision point restricted to a few values,
every per-row quantity of a WCLS fit (the design row ``[g_t, (A_t - p~_t)
S_t]``, the weight ``I_t W_t`` and their products) is a function of the drawn
arm only. So each participant's sufficient statistics ``X_i' W_i X_i`` and
``X_i' W_i y_i`` are the recorded-arm-0 values plus one-hot arm indicators
times per-row differences: one matrix product for all draws. The estimate,
the participant scores ``U_i = X_i' W_i y_i - X_i' W_i X_i theta`` and the
sandwich follow from these alone. The Mancl-DeRouen correction
``(I - H_ii)^{-1} r_i`` with ``H_ii = X_i B X_i' W_i`` needs no n_i x n_i
matrix either: by the Woodbury identity the corrected score is
``B^{-1} (B^{-1} - X_i' W_i X_i)^{-1} U_i``, a k x k solve per participant and
draw, so the corrected variance is ``sum_i v_i v_i'`` with
``v_i = (B^{-1} - X_i' W_i X_i)^{-1} U_i``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from labmrt.analysis.batch import BatchFit, fit_from_sums, single_threaded_blas, solve_batched
from labmrt.analysis.design import Design, build_design, effect_block, wcls_weight
from labmrt.analysis.options import AnalysisOptions
from labmrt.errors import LabmrtError, Problem

Method = Literal["redraw", "shuffle"]
METHOD_LABELS = {
    "redraw": "re-drawn from the recorded randomization probabilities",
    "shuffle": "naive shuffle of the recorded arms (ignores the randomization probabilities)",
}
# MRTAnalysis wcls(): the small-sample correction applies up to this many effective participants.
SMALL_SAMPLE_MAX_N = 50

ProgressCallback = Callable[[int, int], "bool | None"]


@dataclass
class ArmDesign:
    """A WCLS analysis written as a function of the arm drawn at each row.

    ``x_by_arm[a, r]`` and ``w_by_arm[a, r]`` are the design row and the weight
    row ``r`` would have if arm ``a`` had been drawn there; ``probs[r, a]`` the
    randomization probability of arm ``a`` recorded at row ``r``;
    ``observed[r]`` the arm actually drawn; ``randomized[r]`` whether the row
    was randomized (available). Rows that were not randomized keep their
    recorded arm in every draw.
    """

    y: np.ndarray
    cluster: np.ndarray
    x_by_arm: np.ndarray
    w_by_arm: np.ndarray
    probs: np.ndarray
    observed: np.ndarray
    randomized: np.ndarray
    names: list[str]
    effect_index: list[int]
    arms: list[str]
    small_sample: bool | None = None  # None: as MRTAnalysis (n_effective <= 50)
    n_effective: int = 0
    df: int = 0
    label: str = ""
    # EMEE (binary outcome, log relative risk) needs the pieces of the design row:
    estimator: Literal["wcls", "emee"] = "wcls"
    a_of_arm: np.ndarray | None = None  # the contrast's A_t for each arm
    moderators: np.ndarray | None = None  # S_t (n x p), intercept first
    numerator: np.ndarray | None = None  # p~_t per row

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=float)
        self.cluster = pd.factorize(np.asarray(self.cluster))[0].astype(np.int64)
        self.observed = np.asarray(self.observed, dtype=np.int64)
        self.randomized = np.asarray(self.randomized, dtype=bool)
        self.x_by_arm = np.asarray(self.x_by_arm, dtype=float)
        self.w_by_arm = np.asarray(self.w_by_arm, dtype=float)
        self.probs = np.asarray(self.probs, dtype=float)
        w_any = (self.w_by_arm != 0).any(axis=0)
        self.n_effective = int(np.unique(self.cluster[w_any]).size)
        if self.estimator == "emee":
            # MRTAnalysis emee(): every participant counts, the correction always applies.
            self.n_effective = int(np.unique(self.cluster).size)
            self.small_sample = True
        p = len(self.effect_index)
        q = len(self.names) - p
        self.df = self.n_effective - p - q
        if self.small_sample is None:
            self.small_sample = self.n_effective <= SMALL_SAMPLE_MAX_N

    @property
    def n_arms(self) -> int:
        return self.x_by_arm.shape[0]

    @property
    def effect_names(self) -> list[str]:
        return [self.names[j] for j in self.effect_index]


@dataclass
class _RowStats:
    """Per-row sufficient statistics for arm 0 and their change for every other arm."""

    base_xx: np.ndarray  # (N, k*k): per participant, arm 0 everywhere
    base_xy: np.ndarray  # (N, k)
    delta: np.ndarray  # (A-1, N, n_max, k*k + k): per-row change when arm a (>= 1) is drawn
    row_slices: list[slice]
    k: int
    position: np.ndarray  # row -> position within its participant
    n_max: int


def _row_stats(design: ArmDesign) -> _RowStats:
    order = np.argsort(design.cluster, kind="stable")
    if np.any(order != np.arange(order.size)):
        raise LabmrtError(
            Problem(
                "robustness", "rows must be grouped by participant", "sort the table by participant"
            )
        )
    n_arms, n, k = design.x_by_arm.shape
    per_arm = []
    for a in range(n_arms):
        x = design.x_by_arm[a]
        w = design.w_by_arm[a]
        xx = (w[:, None, None] * x[:, :, None] * x[:, None, :]).reshape(n, k * k)
        xy = (w * design.y)[:, None] * x
        per_arm.append(np.concatenate([xx, xy], axis=1))
    bounds = np.flatnonzero(np.diff(design.cluster)) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, n]
    slices = [slice(s, e) for s, e in zip(starts, ends, strict=True)]
    base = np.add.reduceat(per_arm[0], starts, axis=0)
    # Rows padded to (participant, position) so one batched matmul covers all participants.
    sizes = ends - starts
    n_max = int(sizes.max())
    pos = np.arange(n) - np.repeat(starts, sizes)
    delta = np.zeros((max(n_arms - 1, 0), len(slices), n_max, k * k + k))
    for a in range(1, n_arms):
        delta[a - 1, design.cluster, pos] = per_arm[a] - per_arm[0]
    return _RowStats(base[:, : k * k], base[:, k * k :], delta, slices, k, pos, n_max)


_solve = solve_batched


def fit_batch(design: ArmDesign, arms: np.ndarray, stats_: _RowStats | None = None) -> BatchFit:
    """WCLS fits for each row of ``arms`` (B x n arm indices), as batched linear algebra."""
    if design.estimator == "emee":
        return fit_batch_emee(design, arms)
    rs = stats_ or _row_stats(design)
    arms = np.atleast_2d(arms)
    b = arms.shape[0]
    k = rs.k
    n_part = len(rs.row_slices)
    base = np.concatenate([rs.base_xx, rs.base_xy], axis=1)
    suff = np.broadcast_to(base[:, None, :], (n_part, b, base.shape[1])).copy()
    padded = np.zeros((n_part, b, rs.n_max))
    for a in range(1, design.n_arms):
        padded[design.cluster, :, rs.position] = (arms == a).T
        suff += np.matmul(padded, rs.delta[a - 1])  # (N, B, n_max) @ (N, n_max, m)
    suff = suff.transpose(1, 0, 2)
    cxx = suff[:, :, : k * k].reshape(b, n_part, k, k)
    cxy = suff[:, :, k * k :]
    return fit_from_sums(cxx, cxy, design.effect_index, bool(design.small_sample), design.df)


def fit_loop(design: ArmDesign, arms: np.ndarray) -> BatchFit:
    """The same fits one at a time from the rows (weighted LS + sandwich); the baseline."""
    if design.estimator == "emee":
        return fit_loop_emee(design, arms)
    arms = np.atleast_2d(arms)
    rows = np.arange(design.y.size)
    out_e, out_s = [], []
    bounds = np.flatnonzero(np.diff(design.cluster)) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, design.y.size]
    idx = design.effect_index
    for draw in arms:
        x = design.x_by_arm[draw, rows]
        w = design.w_by_arm[draw, rows]
        xtw = x.T * w
        bread = np.linalg.inv(xtw @ x)
        theta = bread @ (xtw @ design.y)
        r = design.y - x @ theta
        meat = np.zeros_like(bread)
        for s, e in zip(starts, ends, strict=True):
            xi, wi, ri = x[s:e], w[s:e], r[s:e]
            if design.small_sample:
                h = xi @ bread @ (xi.T * wi)
                ri = np.linalg.solve(np.eye(e - s) - h, ri)
            u = xi.T @ (wi * ri)
            meat += np.outer(u, u)
        cov = bread @ meat @ bread
        out_e.append(theta[idx])
        out_s.append(np.sqrt(np.diag(cov)[idx]))
    est, se = np.array(out_e), np.array(out_s)
    p = 2 * stats.t.sf(np.abs(est / se), max(design.df, 1))
    return BatchFit(est, se, p)


# --------------------------------------------------------------------------- EMEE


def _emee_parts(design: ArmDesign, arms: np.ndarray):
    """Per draw and row: A, weight, and the fixed g_t, S_t, p~_t, y (the EMEE ingredients)."""
    rows = np.arange(design.y.size)
    q = design.effect_index[0]
    g = design.x_by_arm[0][:, :q]
    a = design.a_of_arm[arms]
    w = design.w_by_arm[arms, rows]
    return g, design.moderators, design.numerator, design.y, a, w


def _emee_terms(g, s, pt, y, a, w, theta):
    """Estimating-function pieces of Qian et al. (2021) for B draws at once.

    ``U = sum_t D_t r_t`` with ``r_t = Y - exp(g'alpha + A S'beta)`` (zero weight
    rows drop out) and ``D_t = W_t exp(-A S'beta) [g ; (A - p~) S]``; ``R_t`` is
    the derivative of ``r_t`` and ``dD`` that of ``D_t`` in theta.
    """
    q = g.shape[1]
    alpha, beta = theta[:, :q], theta[:, q:]
    ga = g @ alpha.T  # (n, B)
    sb = s @ beta.T
    ga, sb = ga.T, sb.T  # (B, n)
    mean = np.exp(ga + a * sb)
    r = (y[None] - mean) * (w != 0)
    pre = w * np.exp(-a * sb)
    c = a - pt[None]
    d = np.concatenate([pre[..., None] * g[None], (pre * c)[..., None] * s[None]], axis=2)
    rr = -mean[..., None] * np.concatenate(
        [np.broadcast_to(g, (a.shape[0], *g.shape)), a[..., None] * s[None]], axis=2
    )
    rr *= (w != 0)[..., None]
    return r, d, rr, pre, c


def _emee_jacobian(g, s, r, d, rr, pre, a, c):
    """Sum over rows of d(D_t r_t)/d theta, (B, k, k)."""
    q = g.shape[1]
    jac = np.matmul(d.transpose(0, 2, 1), rr)
    f = pre * a * r  # the dD/dbeta factor
    jac[:, :q, q:] -= np.matmul(f[:, None, :] * g.T[None], s)
    jac[:, q:, q:] -= np.matmul((f * c)[:, None, :] * s.T[None], s)
    return jac


def _padding(cluster: np.ndarray) -> tuple[int, np.ndarray, int]:
    """Number of participants, each row's position within its participant, the largest count."""
    sizes = np.bincount(cluster)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    pos = np.arange(cluster.size) - np.repeat(starts, sizes)
    return sizes.size, pos, int(sizes.max())


def fit_batch_emee(
    design: ArmDesign, arms: np.ndarray, tol: float = 1e-10, start: np.ndarray | None = None
) -> BatchFit:
    """EMEE fits (log relative risk) for B draws: batched Newton steps, then the sandwich.

    Written with (B x n) row weights times fixed per-row outer products, so no
    (B x n x k) array is formed: with ``e = exp(g'alpha)``, ``D_t R_t' =
    -W e [g g', A g S'; c S g', c A S S']`` (``c = A - p~``) because
    ``exp(-A S'beta) exp(g'alpha + A S'beta) = e``. ``start``: initial
    coefficients; by default log(mean outcome) for the intercept, 0 elsewhere.
    """
    arms = np.atleast_2d(arms)
    g, s, pt, y, a, w = _emee_parts(design, arms)
    b, n = a.shape
    q, p = g.shape[1], s.shape[1]
    k = q + p
    c = a - pt[None]
    gg = (g[:, :, None] * g[:, None, :]).reshape(n, q * q)
    gs = (g[:, :, None] * s[:, None, :]).reshape(n, q * p)
    sg = (s[:, :, None] * g[:, None, :]).reshape(n, p * q)
    ss = (s[:, :, None] * s[:, None, :]).reshape(n, p * p)
    theta = np.zeros((b, k))
    if start is not None:
        theta[:] = start
    else:
        used = w != 0
        ybar = (y[None] * used).sum(axis=1) / np.maximum(used.sum(axis=1), 1)
        theta[:, 0] = np.log(np.clip(ybar, 1e-6, None))

    def pieces(th, rows):
        aa, ww, cc = a[rows], w[rows], c[rows]
        e = np.exp(th[:, :q] @ g.T)  # (b, n)
        pre = ww * np.exp(-aa * (th[:, q:] @ s.T))
        pr = pre * y[None] - ww * e  # pre * r, since pre * exp(g'a + A S'b) = W e
        we = ww * e
        return aa, cc, pre, pr, we

    def jacobian(aa, cc, pre, pr, we, rows_b):
        jac = np.empty((rows_b, k, k))
        jac[:, :q, :q] = -(we @ gg).reshape(rows_b, q, q)
        jac[:, :q, q:] = -((we * aa + pr * aa) @ gs).reshape(rows_b, q, p)
        jac[:, q:, :q] = -((we * cc) @ sg).reshape(rows_b, p, q)
        jac[:, q:, q:] = -((we * cc * aa + pr * aa * cc) @ ss).reshape(rows_b, p, p)
        return jac

    active = np.ones(b, dtype=bool)
    failed = np.zeros(b, dtype=bool)
    for _ in range(100):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        aa, cc, pre, pr, we = pieces(theta[idx], idx)
        u = np.concatenate([pr @ g, (pr * cc) @ s], axis=1)
        step = _solve(jacobian(aa, cc, pre, pr, we, idx.size), u)
        stuck = ~np.isfinite(u).all(axis=1) | ~np.isfinite(step).all(axis=1)
        failed[idx[stuck]] = True  # singular or overflowing draws stop here, reported as NaN
        active[idx[stuck]] = False
        step = np.where(stuck[:, None], 0.0, step)
        theta[idx] -= step
        done = np.abs(step).max(axis=1) < tol * (1 + np.abs(theta[idx]).max(axis=1))
        active[idx[done]] = False
    everyone = np.arange(b)
    aa, cc, pre, pr, we = pieces(theta, everyone)
    jac = jacobian(aa, cc, pre, pr, we, b)
    # Per participant: u_i = D_i' r_i and C_i = D_i' R_i, rows padded to (participant, position).
    n_part, pos, n_max = _padding(design.cluster)

    def per_participant(weights, features):
        pad_w = np.zeros((n_part, b, n_max))
        pad_w[design.cluster, :, pos] = weights.T
        pad_f = np.zeros((n_part, n_max, features.shape[1]))
        pad_f[design.cluster, pos] = features
        return np.matmul(pad_w, pad_f).transpose(1, 0, 2)  # (B, N, m)

    u_i = np.concatenate([per_participant(pr, g), per_participant(pr * cc, s)], axis=2)
    c_i = np.empty((b, n_part, k, k))
    c_i[:, :, :q, :q] = -per_participant(we, gg).reshape(b, n_part, q, q)
    c_i[:, :, :q, q:] = -per_participant(we * aa, gs).reshape(b, n_part, q, p)
    c_i[:, :, q:, :q] = -per_participant(we * cc, sg).reshape(b, n_part, p, q)
    c_i[:, :, q:, q:] = -per_participant(we * cc * aa, ss).reshape(b, n_part, p, p)
    # Corrected score J (J - C_i)^{-1} u_i (Woodbury form of (I - H_ii)^{-1} r_i).
    v = _solve(jac[:, None] - c_i, u_i)
    idx = design.effect_index
    se = np.sqrt(np.einsum("bik,bik->bk", v[:, :, idx], v[:, :, idx]))
    est = theta[:, idx]
    pval = 2 * stats.t.sf(np.abs(est / se), max(design.df, 1))
    bad = active | failed  # Newton did not settle, or the draw has no solution: missing
    if bad.any():
        est[bad], se[bad], pval[bad] = np.nan, np.nan, np.nan
    return BatchFit(est, se, pval)


def fit_loop_emee(design: ArmDesign, arms: np.ndarray) -> BatchFit:
    """EMEE one draw at a time with the explicit n_i x n_i hat matrix (the baseline/check)."""
    arms = np.atleast_2d(arms)
    out_e, out_s = [], []
    bounds = np.r_[0, np.flatnonzero(np.diff(design.cluster)) + 1, design.y.size]
    idx = design.effect_index
    for draw in arms:
        g, s, pt, y, a, w = _emee_parts(design, draw[None])
        theta = _emee_root(design, draw)
        r, d, rr, pre, c = _emee_terms(g, s, pt, y, a, w, theta[None])
        jac = _emee_jacobian(g, s, r, d, rr, pre, a, c)[0]
        jinv = np.linalg.inv(jac)
        meat = np.zeros_like(jac)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            di, ri, rri = d[0, lo:hi], r[0, lo:hi], rr[0, lo:hi]
            h = rri @ jinv @ di.T
            rstar = np.linalg.solve(np.eye(hi - lo) - h, ri)
            ui = di.T @ rstar
            meat += np.outer(ui, ui)
        cov = jinv @ meat @ jinv.T
        out_e.append(theta[idx])
        out_s.append(np.sqrt(np.diag(cov)[idx]))
    est, se = np.array(out_e), np.array(out_s)
    return BatchFit(est, se, 2 * stats.t.sf(np.abs(est / se), max(design.df, 1)))


def _emee_root(design: ArmDesign, draw: np.ndarray) -> np.ndarray:
    """All EMEE coefficients for one draw, from scipy's root finder (independent of Newton)."""
    from scipy import optimize

    g, s, pt, y, a, w = _emee_parts(design, draw[None])

    def ee(theta):
        r, d, *_ = _emee_terms(g, s, pt, y, a, w, theta[None])
        return np.einsum("bnk,bn->bk", d, r)[0]

    used = w[0] != 0
    start = np.zeros(g.shape[1] + s.shape[1])
    start[0] = np.log(max(y[used].mean(), 1e-6))
    sol = optimize.root(ee, start, method="hybr", options={"xtol": 1e-13})
    return sol.x


def draw_arms(
    design: ArmDesign, rng: np.random.Generator, draws: int, method: Method = "redraw"
) -> np.ndarray:
    """``draws`` x n arm indices: re-drawn per row from its recorded probabilities, or shuffled."""
    n = design.y.size
    out = np.broadcast_to(design.observed, (draws, n)).copy()
    rand = np.flatnonzero(design.randomized)
    if rand.size == 0:
        return out
    if method == "redraw":
        cum = np.cumsum(design.probs[rand], axis=1)
        cum /= cum[:, -1:]
        u = rng.random((draws, rand.size))
        # The arm is the first whose cumulative probability exceeds the uniform.
        picked = np.zeros((draws, rand.size), dtype=np.int64)
        for j in range(design.n_arms - 1):
            picked += u >= cum[:, j]
        out[:, rand] = picked
    elif method == "shuffle":
        recorded = design.observed[rand]
        out[:, rand] = recorded[rng.permuted(np.tile(np.arange(rand.size), (draws, 1)), axis=1)]
    else:
        raise LabmrtError(Problem("method", f"unknown {method!r}", "use redraw or shuffle"))
    return out


@dataclass
class TermResult:
    """One effect term: the observed fit and its place among the re-drawn fits."""

    name: str
    estimate: float
    se: float
    p_value: float
    share_significant: float
    randomization_p: float
    null_estimates: np.ndarray = field(repr=False)
    failed_draws: int = 0  # re-drawn fits without a solution (EMEE), left out of the shares

    def to_dict(self) -> dict:
        null = self.null_estimates
        return {
            "term": self.name,
            "estimate": self.estimate,
            "se": self.se,
            "p_value": self.p_value,
            "share_significant": self.share_significant,
            "randomization_p": self.randomization_p,
            "null_mean": float(null.mean()) if null.size else None,
            "null_sd": float(null.std(ddof=1)) if null.size > 1 else None,
            "null_quantiles": (
                dict(
                    zip(
                        ("2.5%", "50%", "97.5%"),
                        np.quantile(null, [0.025, 0.5, 0.975]).tolist(),
                        strict=True,
                    )
                )
                if null.size
                else None
            ),
            "failed_draws": self.failed_draws,
        }


@dataclass
class RandomizationResult:
    """Per term: share significant at alpha among re-drawn fits and the randomization p-value."""

    method: Method
    draws_requested: int
    draws_done: int
    seed: int | None
    alpha: float
    cancelled: bool
    terms: list[TermResult]
    seconds: float
    label: str = ""

    @property
    def method_label(self) -> str:
        return METHOD_LABELS[self.method]

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "method_label": self.method_label,
            "draws_requested": self.draws_requested,
            "draws": self.draws_done,
            "seed": self.seed,
            "alpha": self.alpha,
            "cancelled": self.cancelled,
            "seconds": self.seconds,
            "analysis": self.label,
            "terms": [t.to_dict() for t in self.terms],
        }


def _should_stop(cancel, progress, done: int, total: int) -> bool:
    if progress is not None and progress(done, total) is False:
        return True
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def randomization_test(
    design: ArmDesign,
    draws: int = 5000,
    *,
    seed: int | None = None,
    method: Method = "redraw",
    alpha: float = 0.05,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
    chunk: int = 250,
) -> RandomizationResult:
    """Re-run ``design``'s fit ``draws`` times with the treatment re-drawn.

    ``progress(done, total)`` is called after each chunk; returning ``False``
    stops the run, as does setting ``cancel`` (an Event or a callable). A
    stopped run returns what it has (``cancelled=True``). The same ``seed``
    gives the same draws whatever the chunk size.
    """
    if int(draws) != draws or draws < 1:
        raise LabmrtError(Problem("draws", f"must be a positive whole number, got {draws!r}"))
    if not 0 < alpha < 1:
        raise LabmrtError(Problem("alpha", f"must lie strictly between 0 and 1, got {alpha:g}"))
    if design.df < 1:
        raise LabmrtError(
            Problem(
                "analysis",
                f"{design.n_effective} participants leave no degrees of freedom for "
                f"{len(design.names)} coefficients",
                "use fewer moderators or controls",
            )
        )
    with _single_threaded_blas():
        return _randomization_test(design, draws, seed, method, alpha, progress, cancel, chunk)


_single_threaded_blas = single_threaded_blas


def _randomization_test(design, draws, seed, method, alpha, progress, cancel, chunk):
    start = time.perf_counter()
    rs = _row_stats(design) if design.estimator == "wcls" else None
    observed = fit_batch(design, design.observed[None, :], rs)
    if not np.all(np.isfinite(observed.estimate) & np.isfinite(observed.se)):
        raise LabmrtError(
            Problem(
                "analysis",
                "cannot be fitted on the recorded data (a term has no information)",
                "run labmrt analyze on the same options to see which term",
            )
        )
    seq = np.random.SeedSequence(seed)
    parts_e, parts_p = [], []
    done = 0
    cancelled = _should_stop(cancel, progress, 0, draws)
    chunk_index = 0
    while done < draws and not cancelled:
        m = min(chunk, draws - done)
        # One child stream per fixed block of 250 draws keeps results chunk-size independent.
        arms = _draw_blocks(design, seq, done, m, method)
        fit = fit_batch(design, arms, rs)
        parts_e.append(fit.estimate)
        parts_p.append(fit.p_value)
        done += m
        chunk_index += 1
        cancelled = done < draws and _should_stop(cancel, progress, done, draws)
    if progress is not None and not cancelled:
        progress(done, draws)
    k = len(design.effect_index)
    est = np.concatenate(parts_e) if parts_e else np.empty((0, k))
    pv = np.concatenate(parts_p) if parts_p else np.empty((0, k))
    terms = []
    for j, name in enumerate(design.effect_names):
        obs = float(observed.estimate[0, j])
        ok = np.isfinite(est[:, j]) & np.isfinite(pv[:, j])  # draws without a fit drop out
        null = est[ok, j]
        extreme = int(np.sum(np.abs(null) >= abs(obs) - 1e-12 * max(1.0, abs(obs))))
        terms.append(
            TermResult(
                name=name,
                estimate=obs,
                se=float(observed.se[0, j]),
                p_value=float(observed.p_value[0, j]),
                share_significant=float(np.mean(pv[ok, j] < alpha)) if null.size else math.nan,
                randomization_p=(1 + extreme) / (1 + null.size),
                null_estimates=null,
                failed_draws=int(done - null.size),
            )
        )
    return RandomizationResult(
        method=method,
        draws_requested=int(draws),
        draws_done=done,
        seed=seed,
        alpha=alpha,
        cancelled=cancelled,
        terms=terms,
        seconds=time.perf_counter() - start,
        label=design.label,
    )


_BLOCK = 250


def _draw_blocks(
    design: ArmDesign, seq: np.random.SeedSequence, start: int, m: int, method: Method
) -> np.ndarray:
    """Draws ``start .. start+m`` from per-block child streams (reproducible across chunkings)."""
    out = []
    pos = start
    end = start + m
    while pos < end:
        block = pos // _BLOCK
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seq.entropy, spawn_key=(block,)))
        )
        arms = draw_arms(design, rng, _BLOCK, method)
        lo = pos - block * _BLOCK
        hi = min(_BLOCK, end - block * _BLOCK)
        out.append(arms[lo:hi])
        pos = block * _BLOCK + hi
    return np.concatenate(out)


def plot_null_distributions(result: RandomizationResult, path: str | Path) -> Path:
    """Histogram of each term's re-drawn estimates with the observed estimate marked."""
    from labmrt.analysis.plot import agg_figure, save_figure

    k = max(1, len(result.terms))
    fig = agg_figure((4.2 * k, 3.4))
    axes = fig.subplots(1, k, squeeze=False)
    for ax, term in zip(axes[0], result.terms, strict=False):
        null = term.null_estimates
        if null.size:
            ax.hist(null, bins=min(60, max(10, null.size // 50)), color="#90a4ae", edgecolor="none")
        ax.axvline(term.estimate, color="#c62828", lw=2, label=f"observed {term.estimate:.3g}")
        ax.axvline(-term.estimate, color="#c62828", lw=1, ls=":")
        ax.set_title(
            f"{term.name}\nrandomization p = {term.randomization_p:.4f}, "
            f"significant {100 * term.share_significant:.1f}%",
            fontsize=9,
        )
        ax.set_xlabel("estimate under re-drawn treatment")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"{result.draws_done} draws, {result.method_label}", fontsize=9, y=0.995)
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- design from a table


def arm_design(
    design: Design,
    *,
    estimator: Literal["wcls", "emee"] = "wcls",
    arm_names: Sequence[str] | None = None,
    arm_probs: np.ndarray | None = None,
    observed_arm: np.ndarray | None = None,
    treatment_arm: str | None = None,
    control_arms: Sequence[str] | None = None,
    small_sample: bool | None = None,
    label: str = "",
) -> ArmDesign:
    """The analyzer's :class:`~labmrt.analysis.design.Design` as a function of the drawn arm.

    Binary data (no ``arm_probs``): arm 1 = treated with the design's
    probability. Multi-arm data: ``arm_probs`` (rows in design order, one
    column per arm of ``arm_names``) and ``observed_arm`` (arm index per row);
    the contrast is ``treatment_arm`` vs ``control_arms`` (default every other
    arm) with the probability ``P(treatment | treatment or control arm)``, and
    a row drawn to an arm outside the contrast gets weight 0.
    """
    q = design.g.shape[1]
    n = design.n_rows
    used = design.used
    num = design.num_prob
    if arm_probs is None:
        names = ["0", "1"]
        probs = np.column_stack([1 - design.prob, design.prob])
        observed = design.a.astype(np.int64)
        a_of_arm = np.array([0.0, 1.0])
        included = np.array([True, True])
        p_cond = design.prob
    else:
        names = list(arm_names or [])
        probs = np.asarray(arm_probs, dtype=float)
        observed = np.asarray(observed_arm, dtype=np.int64)
        t, ctrl = _contrast_index(names, treatment_arm, control_arms)
        a_of_arm = np.array([1.0 if j in t else 0.0 for j in range(len(names))])
        included = np.array([j in t or j in ctrl for j in range(len(names))])
        p_t = probs[:, t].sum(axis=1)
        pair = p_t + probs[:, ctrl].sum(axis=1)
        p_cond = np.where(used & (pair > 0), p_t / np.where(pair > 0, pair, 1), 0.5)
        bad = used & ~((p_cond > 0) & (p_cond < 1))
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"contrast {treatment_arm} vs {'+'.join(names[j] for j in ctrl)}",
                    f"{int(bad.sum())} available rows give the contrast a probability of 0 or 1",
                    "check the recorded prob_<arm> columns",
                )
            )
    k = q + design.s.shape[1]
    x_by_arm = np.empty((len(names), n, k))
    w_by_arm = np.empty((len(names), n))
    for j in range(len(names)):
        a = np.full(n, a_of_arm[j])
        x_by_arm[j, :, :q] = design.g
        x_by_arm[j, :, q:] = effect_block(a, num, design.s)
        w_by_arm[j] = wcls_weight(a, p_cond, num, used & included[j])
    return ArmDesign(
        y=design.y,
        cluster=np.repeat(np.arange(design.n_participants), design.sizes),
        x_by_arm=x_by_arm,
        w_by_arm=w_by_arm,
        probs=probs,
        observed=observed,
        randomized=used,
        names=[*design.control_names, *design.effect_names],
        effect_index=list(range(q, k)),
        arms=names,
        small_sample=small_sample,
        label=label,
        estimator=estimator,
        a_of_arm=a_of_arm,
        moderators=design.s,
        numerator=num,
    )


def _contrast_index(
    names: Sequence[str], treatment_arm: str | None, control_arms: Sequence[str] | None
) -> tuple[list[int], list[int]]:
    """Indices of the treated arms (``a+b`` names several) and of the comparison arms.

    Without ``control_arms`` the comparison is every other arm ("vs rest").
    """
    treated = [names.index(a) for a in str(treatment_arm).split("+")]
    if control_arms:
        ctrl = [names.index(c) for c in control_arms]
    else:
        ctrl = [j for j in range(len(names)) if j not in treated]
    return treated, ctrl


def design_from_table(frame: pd.DataFrame, options: AnalysisOptions) -> ArmDesign:
    """The analysis ``options`` describe, built by the analyzer and indexed by the drawn arm."""
    kw = options.call_kwargs()
    kw.pop("conf_level")  # a randomization test has no confidence level
    return design_from_analysis(
        frame, estimator=options.method, small_sample=kw.pop("small_sample", "auto"), **kw
    )


_A, _P = "__redraw_treatment", "__redraw_prob"


def design_from_analysis(
    data: pd.DataFrame | str | Path,
    *,
    estimator: Literal["wcls", "emee"] = "wcls",
    small_sample: str = "auto",
    **kw,
) -> ArmDesign:
    """An :class:`ArmDesign` from the keyword arguments of ``wcls()``/``emee()``.

    The analyzer's own pipeline builds it (:func:`labmrt.analysis.api.prepare`,
    then :func:`~labmrt.analysis.design.build_design`), so the checks, the
    categorical coding, per-protocol rows, lags and delayed outcomes are
    exactly those of ``labmrt analyze``. For an arm contrast the membership of
    a row in the contrast depends on the arm drawn, so the contrast is applied
    per arm here rather than as a fixed row filter. Lagged treatments and the
    per-protocol ``received`` flag are kept as recorded in every draw.
    """
    from labmrt.analysis.api import prepare, read_table
    from labmrt.analysis.contrasts import (
        arms_of,
        contrast_columns,
        parse_contrast,
        resolve_baseline,
    )

    source = None if isinstance(data, pd.DataFrame) else data
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    binary = estimator == "emee"
    sample = {"auto": None, "always": True, "never": False}.get(small_sample)
    if small_sample not in ("auto", "always", "never"):
        raise LabmrtError(Problem("small_sample", f"unknown mode {small_sample!r}"))
    contrast = kw.pop("contrast", None)
    label = str(kw.get("outcome", ""))
    if contrast is None:
        prepared = prepare(frame, binary=binary, **kw)
        design = build_design(prepared.frame, **prepared.kwargs)
        return arm_design(design, estimator=estimator, small_sample=sample, label=label)
    if kw.get("treatment") is not None or kw.get("rand_prob") is not None:
        prepare(frame, contrast=contrast, binary=binary, **kw)  # raises the analyzer's error
    kw.pop("treatment", None)
    kw.pop("rand_prob", None)
    arm_col = kw.pop("arm", "arm")
    baseline = kw.pop("baseline", None)
    arms = arms_of(frame)
    con = parse_contrast(contrast, arms, resolve_baseline(frame, baseline, source))
    availability = kw.get("availability")
    avail = None
    if isinstance(availability, str) and availability in frame.columns:
        avail = (pd.to_numeric(frame[availability], errors="coerce") == 1).to_numpy(bool)
    cc = contrast_columns(frame, con, arm_col, avail)
    recorded = frame[arm_col].astype("string").str.strip()
    observed = np.zeros(len(frame), dtype=np.int64)
    for j, a in enumerate(arms):
        observed[(recorded == a).fillna(False).to_numpy(bool)] = j
    probs = frame[[f"prob_{a}" for a in arms]].apply(pd.to_numeric, errors="coerce")
    probs = probs.to_numpy(dtype=float, na_value=np.nan)
    # Rows outside the contrast enter with A = 0 and their conditional probability; their
    # weight is set per drawn arm by arm_design.
    p_cond = np.where(np.isfinite(cc.prob) & (cc.prob > 0) & (cc.prob < 1), cc.prob, 0.5)
    a_obs = np.where(cc.include, cc.treatment, 0.0)
    prepared = prepare(
        frame.assign(**{_A: a_obs, _P: p_cond}), treatment=_A, rand_prob=_P, binary=binary, **kw
    )
    prepared.kwargs["labels"] = {
        **prepared.kwargs.get("labels", {}),
        "treatment": con.label,
        "rand_prob": f"prob_{'+'.join(con.treated)}",
    }
    design = build_design(prepared.frame, **prepared.kwargs)
    order = design.row_order
    return arm_design(
        design,
        estimator=estimator,
        arm_names=arms,
        arm_probs=np.nan_to_num(probs[order], nan=0.0),
        observed_arm=observed[order],
        treatment_arm="+".join(con.treated),
        control_arms=con.control,
        small_sample=sample,
        label=label,
    )


# --------------------------------------------------------------------------- alternatives


@dataclass
class Variant:
    """One re-run of the analysis: another outcome and/or a subset of the rows."""

    outcome: str
    subset: str | None = None

    @property
    def label(self) -> str:
        return self.outcome + (f" [{self.subset}]" if self.subset else "")


def apply_subset(frame: pd.DataFrame, expr: str | None) -> pd.DataFrame:
    """Rows selected by a pandas ``query`` expression, with a clear error when it is wrong."""
    if not expr:
        return frame
    try:
        out = frame.query(expr, engine="python")
    except Exception as err:  # noqa: BLE001 - any parse/name error is the user's expression
        raise LabmrtError(
            Problem(
                f"--subset {expr!r}",
                f"cannot select rows: {type(err).__name__}: {err}",
                'write a pandas query over the table\'s columns, e.g. "task_index < 20"',
            )
        ) from None
    if not isinstance(out, pd.DataFrame) or out.empty:
        raise LabmrtError(Problem(f"--subset {expr!r}", "selects no rows", "loosen the condition"))
    return out


def compare_analyses(
    frame: pd.DataFrame,
    options: AnalysisOptions,
    outcomes: Sequence[str] = (),
    subsets: Sequence[str] = (),
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The same analysis over the main and alternative outcomes x all rows and each subset.

    One row per variant and effect term: estimate, SE, (1 - alpha) CI, p-value,
    participants and rows used. This is the comparison table of phase 7; each
    row is the analyzer's own fit (:func:`labmrt.analysis.api.wcls`/``emee``).
    """
    kw = options.call_kwargs()
    kw.pop("conf_level")  # each fit's level is 1 - alpha
    return compare_variants(frame, kw, outcomes, subsets, estimator=options.method, alpha=alpha)


def compare_variants(
    frame: pd.DataFrame,
    analysis: dict,
    outcomes: Sequence[str] = (),
    subsets: Sequence[str] = (),
    *,
    estimator: Literal["wcls", "emee"] = "wcls",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`compare_analyses` for the keyword arguments of ``wcls()``/``emee()``."""
    from labmrt.analysis import api

    fit = api.emee if estimator == "emee" else api.wcls
    kw = dict(analysis)
    main_outcome = kw.pop("outcome")
    variants = [
        Variant(o, s) for s in (None, *subsets) for o in dict.fromkeys((main_outcome, *outcomes))
    ]
    records = []
    for v in variants:
        part = apply_subset(frame, v.subset)
        result = fit(part, outcome=v.outcome, conf_level=1 - alpha, **kw)
        for term, row in result.table.iterrows():
            records.append(
                {
                    "outcome": v.outcome,
                    "subset": v.subset or "(all rows)",
                    "term": term,
                    "estimate": float(row["estimate"]),
                    "se": float(row["std_error"]),
                    "ci_lower": float(row["ci_lower"]),
                    "ci_upper": float(row["ci_upper"]),
                    "p_value": float(row["p_value"]),
                    "df": int(row["df"]),
                    "participants": int(result.n_effective),
                    "rows": int(len(part)),
                }
            )
    return pd.DataFrame.from_records(records)
