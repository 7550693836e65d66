"""WCLS fits of many data sets at once, from per-participant sufficient statistics.

A WCLS fit (Boruvka et al. 2018, as MRTAnalysis ``wcls()``) needs nothing of a
participant's rows but ``X_i' W_i X_i`` and ``X_i' W_i y_i``: the estimate
solves ``(sum_i X_i'W_iX_i) theta = sum_i X_i'W_iy_i``, the participant score
is ``U_i = X_i'W_iy_i - X_i'W_iX_i theta``, and the Mancl-DeRouen corrected
score ``(I - H_ii)^{-1} r_i`` enters the sandwich as ``B^{-1} (B^{-1} -
X_i'W_iX_i)^{-1} U_i`` (Woodbury identity), a k x k solve instead of an
n_i x n_i inverse. So B fits (re-drawn treatments of one study, or B
simulated studies) are a handful of batched small solves. The randomization
check (:mod:`labmrt.analysis.robustness`) and the power simulation share this.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class BatchFit:
    """Estimates, standard errors and two-sided p-values of B fits (rows: fits)."""

    estimate: np.ndarray
    se: np.ndarray
    p_value: np.ndarray
    theta: np.ndarray | None = None  # every coefficient (EMEE: a start for related fits)


def solve_batched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``a x = b`` (b a stack of vectors); singular systems give NaN, not an error.

    A re-drawn assignment or a small simulated study can leave a term without
    information (e.g. no treated row of a moderator level); that fit has no
    solution and is reported as missing.
    """
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        flat_a = a.reshape(-1, *a.shape[-2:])
        flat_b = b.reshape(-1, b.shape[-1])
        out = np.full(flat_b.shape, np.nan)
        for i in range(flat_a.shape[0]):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[i] = np.linalg.solve(flat_a[i], flat_b[i])
        return out.reshape(b.shape)


def fit_from_sums(
    cxx: np.ndarray,
    cxy: np.ndarray,
    effect_index: list[int],
    small_sample: bool | np.ndarray,
    df: int | np.ndarray,
) -> BatchFit:
    """WCLS estimates, sandwich SEs and t-test p-values of B fits.

    ``cxx`` (B, N, k, k) and ``cxy`` (B, N, k) are each participant's
    ``X_i'W_iX_i`` and ``X_i'W_iy_i`` in every fit; ``small_sample`` and ``df``
    are one value for all fits or one per fit (the number of participants with
    weight may differ between simulated studies).
    """
    bread_inv = cxx.sum(axis=1)  # (B, k, k) = X'WX
    theta = solve_batched(bread_inv, cxy.sum(axis=1))
    scores = cxy - np.einsum("bikl,bl->bik", cxx, theta)  # U_i
    return sandwich_tests(bread_inv, cxx, scores, theta, effect_index, small_sample, df)


def sandwich_tests(
    m: np.ndarray,
    cross: np.ndarray,
    scores: np.ndarray,
    theta: np.ndarray,
    effect_index: list[int],
    small_sample: bool | np.ndarray,
    df: int | np.ndarray,
) -> BatchFit:
    """Cluster sandwich SEs and t tests of B fits of an estimating equation.

    ``m`` (B, k, k) the derivative of the estimating function (up to sign),
    ``cross`` (B, N, k, k) each participant's ``G_i`` (for WCLS ``X_i'W_iX_i``),
    ``scores`` (B, N, k) the ``U_i``: the variance is ``sum_i v_i v_i'`` with
    ``v_i = (M - G_i)^{-1} U_i`` (Mancl-DeRouen, the Woodbury form of
    :mod:`labmrt.analysis.sandwich`) where ``small_sample``, else ``M^{-1} U_i``.
    """
    corrected = np.broadcast_to(np.asarray(small_sample, dtype=bool), (m.shape[0],))
    v = np.empty_like(scores)
    if corrected.any():
        c = np.flatnonzero(corrected)
        v[c] = solve_batched(m[c, None] - cross[c], scores[c])
    if not corrected.all():
        c = np.flatnonzero(~corrected)
        v[c] = solve_batched(np.broadcast_to(m[c, None], cross[c].shape), scores[c])
    idx = list(effect_index)
    se = np.sqrt(np.einsum("bik,bik->bk", v[:, :, idx], v[:, :, idx]))
    est = theta[:, idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    dof = np.maximum(np.asarray(df, dtype=float), 1.0)
    if dof.ndim:
        dof = dof[:, None]
    return BatchFit(est, se, 2 * stats.t.sf(np.abs(t), dof))


def single_threaded_blas():
    """Many small matrix products: threaded BLAS only spins and contends on a shared machine.

    Measured in bench/bench_robustness.py: one thread is both faster and far
    steadier (0.5 s vs 0.6-4.7 s for 5,000 fits on 2 busy cores).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional, pulled in by scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------- EMEE
_EMEE_MAX_ITER = 100
_EMEE_TOL = 1e-12
_EMEE_LAST_STEP = 1e-7


@dataclass
class EmeeRows:
    """B data sets of N participants x T decision points, as EMEE sees them.

    ``g`` (B, N, T, q) the control rows, ``s`` (B, N, T, p) the moderator rows
    (intercept first), ``a`` the 0/1 treatment, ``numerator`` p~ (a number or
    (B, N, T)), ``w`` the weight ``I_t W_t`` (0 for rows not analyzed), ``y``
    the 0/1 outcome. Every participant counts (MRTAnalysis ``emee()``).
    """

    g: np.ndarray
    s: np.ndarray
    a: np.ndarray
    numerator: np.ndarray | float
    w: np.ndarray
    y: np.ndarray

    def take(self, idx: np.ndarray) -> EmeeRows:
        num = self.numerator
        num = num[idx] if np.ndim(num) else num
        return EmeeRows(self.g[idx], self.s[idx], self.a[idx], num, self.w[idx], self.y[idx])


def emee_features(g: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per row ``[g g', g S', S S', g, S]`` flattened, (B, N, T, f): every sum EMEE needs is a
    weighted sum of these with row weights that change from one Newton step to the next.
    Data sets that share ``g`` and ``S`` (several contrasts of one trial) can share them."""
    q, p = g.shape[-1], s.shape[-1]
    out = np.empty((*g.shape[:-1], q * q + q * p + p * p + q + p))
    at = 0
    for u, v in ((g, g), (g, s), (s, s)):
        for i in range(u.shape[-1]):
            np.multiply(u[..., i, None], v, out=out[..., at : at + v.shape[-1]])
            at += v.shape[-1]
    out[..., at : at + q] = g
    out[..., at + q :] = s
    return out


def _emee_weights(rows: EmeeRows, theta: np.ndarray, split: bool = False):
    """Row weights (B, 6 or 8, N, T) of the EMEE sums of Qian et al. (2021) at ``theta`` (B, k).

    With ``e = exp(g'alpha)``, ``pre = W exp(-A S'beta)`` and ``pr = pre (Y - exp(g'alpha
    + A S'beta)) = pre Y - W e`` (as ``pre exp(g'alpha + A S'beta) = W e``), the score is
    ``sum pr [g; c S]`` (``c = A - p~``). Its derivative ``M`` is ``-sum W e [g; cS][g; AS]'``
    plus ``-sum pr A [g; cS][0; S]'`` (through ``exp(-A S'beta)``), as in
    :mod:`labmrt.analysis.emee`; the first part alone is, per participant, the ``G_i`` of
    the Mancl-DeRouen correction. Weights, in the order of the blocks: ``g g'``, ``g S'``,
    ``(S g')'``, ``S S'``, score ``g``, score ``S``, the two parts together; with ``split``
    the first part in the first four and the second part's ``g S'`` and ``S S'`` last.
    """
    b, n, t, q = rows.g.shape
    a, w = rows.a, rows.w
    lin = np.matmul(rows.g.reshape(b, n * t, q), theta[:, :q, None])
    with np.errstate(over="ignore", invalid="ignore"):
        we = w * np.exp(lin.reshape(b, n, t))
        lin = np.matmul(rows.s.reshape(b, n * t, -1), theta[:, q:, None]).reshape(b, n, t)
        pre = w * np.exp(-a * lin)
        pr = pre * rows.y - we
    c = a - rows.numerator
    out = np.empty((b, 8 if split else 6, n, t))
    out[:, 0] = we
    np.multiply(we if split else np.add(we, pr, out=out[:, 1]), a, out=out[:, 1])
    np.multiply(we, c, out=out[:, 2])
    np.multiply(out[:, 1], c, out=out[:, 3])
    out[:, 4] = pr
    np.multiply(pr, c, out=out[:, 5])
    if split:
        np.multiply(pr, a, out=out[:, 6])
        np.multiply(out[:, 6], c, out=out[:, 7])
    return out


def _emee_blocks(sums: np.ndarray, q: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Score (..., k) and derivative (..., k, k) from the weighted feature sums (..., 6, f)."""
    lead = sums.shape[:-2]
    k = q + p
    o1, o2, o3 = q * q, q * q + q * p, q * q + q * p + p * p
    m = np.empty((*lead, k, k))
    m[..., :q, :q] = -sums[..., 0, :o1].reshape(*lead, q, q)
    m[..., :q, q:] = -sums[..., 1, o1:o2].reshape(*lead, q, p)
    m[..., q:, :q] = -np.swapaxes(sums[..., 2, o1:o2].reshape(*lead, q, p), -1, -2)
    m[..., q:, q:] = -sums[..., 3, o2:o3].reshape(*lead, p, p)
    score = np.concatenate([sums[..., 4, o3 : o3 + q], sums[..., 5, o3 + q :]], axis=-1)
    return score, m


def _emee_sums(rows: EmeeRows, feats: np.ndarray, theta: np.ndarray):
    """Score and derivative ``M`` of each data set (summed over participants and rows)."""
    b = theta.shape[0]
    wts = _emee_weights(rows, theta).reshape(b, 6, -1)
    sums = np.matmul(wts, feats.reshape(b, wts.shape[-1], -1))
    return _emee_blocks(sums, rows.g.shape[-1], rows.s.shape[-1])


def fit_emee_batched(
    rows: EmeeRows,
    effect_index: list[int],
    small_sample: bool | np.ndarray,
    df: int | np.ndarray,
    start: np.ndarray | None = None,
    features: np.ndarray | None = None,
) -> BatchFit:
    """EMEE fits (log relative risk, MRTAnalysis ``emee()``) of B data sets at once.

    Newton's method on all data sets together: each step is one stacked
    ``np.linalg.solve`` of the k x k derivatives, with step halving for a data
    set whose residual grew (as :func:`labmrt.analysis.emee.solve_emee`), and
    each data set leaves the iteration when its own residual or step is
    negligible. Then the cluster sandwich of each data set
    (:func:`sandwich_tests`, as the WCLS fits).
    A data set without a solution (singular derivative, no convergence) is NaN.
    ``start``: (B, k), e.g. the ``theta`` of the same data sets' fits with
    fewer participants (rows not finite: the default); by default log(mean
    outcome of the analyzed rows) for the control intercept and 0 elsewhere
    (the root does not depend on it).
    ``features``: :func:`emee_features` of ``rows``, when already at hand.
    """
    b, n_part = rows.a.shape[:2]
    q, p = rows.g.shape[-1], rows.s.shape[-1]
    k = q + p
    theta = np.zeros((b, k))
    used = rows.w != 0
    ybar = (rows.y * used).sum(axis=(1, 2)) / np.maximum(used.sum(axis=(1, 2)), 1)
    theta[:, 0] = np.log(np.clip(ybar, 1e-6, None))
    if start is not None:
        start = np.asarray(start, dtype=float)
        given = np.isfinite(start).all(axis=1)
        theta[given] = start[given]
    scale = max(n_part, 1)
    feats = emee_features(rows.g, rows.s) if features is None else features
    total, jac = _emee_sums(rows, feats, theta)
    norm = np.abs(total).max(axis=1) / scale
    active = np.isfinite(norm)
    failed = ~active
    for _ in range(_EMEE_MAX_ITER):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        step = solve_batched(jac[idx], total[idx])
        bad = ~np.isfinite(step).all(axis=1)
        failed[idx[bad]] = True
        active[idx[bad]] = False
        idx, step = idx[~bad], step[~bad]
        # A step this small leaves an error of its square (Newton): taken without a check;
        # the derivative and residual at the end come from the per-participant pass below.
        tiny = np.abs(step).max(axis=1) < _EMEE_LAST_STEP * (1 + np.abs(theta[idx]).max(axis=1))
        theta[idx[tiny]] -= step[tiny]
        active[idx[tiny]] = False
        idx, step = idx[~tiny], step[~tiny]
        lam = np.ones(idx.size)
        pending = np.arange(idx.size)  # positions in idx still looking for a step
        while pending.size:
            sub = idx[pending]
            cand = theta[sub] - lam[pending, None] * step[pending]
            if sub.size == b:
                t_new, j_new = _emee_sums(rows, feats, cand)
            else:
                t_new, j_new = _emee_sums(rows.take(sub), feats[sub], cand)
            n_new = np.abs(t_new).max(axis=1) / scale
            ok = (np.isfinite(n_new) & (n_new < norm[sub])) | (lam[pending] < 1e-8)
            acc = sub[ok]
            theta[acc], total[acc], jac[acc], norm[acc] = cand[ok], t_new[ok], j_new[ok], n_new[ok]
            lam[pending[~ok]] /= 2
            pending = pending[~ok]
        moved = np.abs(lam[:, None] * step).max(axis=1)
        done = (norm[idx] < _EMEE_TOL) | (moved < 1e-14 * (1 + np.abs(theta[idx]).max(axis=1)))
        active[idx[done]] = False
    # Per participant, at the solution: scores U_i (B, N, k), G_i (B, N, k, k); their sums
    # give the residual and the derivative M. One batched product.
    wts = _emee_weights(rows, theta, split=True).transpose(0, 2, 1, 3)  # (B, N, 8, T)
    per = np.matmul(wts, feats)  # (B, N, 8, f)
    scores, cross = _emee_blocks(per, q, p)
    both = per.sum(axis=1)
    both[:, 1] += both[:, 6]
    both[:, 3] += both[:, 7]
    total, jac = _emee_blocks(both, q, p)
    norm = np.abs(total).max(axis=1) / scale
    failed |= active | ~np.isfinite(norm) | (norm > 1e-8)
    fit = sandwich_tests(jac, cross, scores, theta, effect_index, small_sample, df)
    for values in (fit.estimate, fit.se, fit.p_value):
        values[failed] = np.nan
    theta[failed] = np.nan
    fit.theta = theta
    return fit
