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
    corrected = np.broadcast_to(np.asarray(small_sample, dtype=bool), (cxx.shape[0],))
    v = np.empty_like(scores)
    if corrected.any():
        c = np.flatnonzero(corrected)
        v[c] = solve_batched(bread_inv[c, None] - cxx[c], scores[c])
    if not corrected.all():
        c = np.flatnonzero(~corrected)
        v[c] = solve_batched(np.broadcast_to(bread_inv[c, None], cxx[c].shape), scores[c])
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
