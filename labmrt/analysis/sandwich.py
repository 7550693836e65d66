"""Cluster (participant) sandwich variance with the Mancl-DeRouen correction.

Written for estimating equations ``sum_i D_i r_i = 0`` with derivative
``M = d/dtheta sum_i D_i r_i`` (for WCLS ``D_i = X_i' W_i``, ``M = -X'WX``).

- Plain sandwich: ``M^{-1} (sum_i U_i U_i') M^{-T}``, ``U_i = D_i r_i``; no
  n/(n-k) factor (MRTAnalysis).
- Mancl and DeRouen (2001): replace ``r_i`` by ``(I - H_ii)^{-1} r_i`` with
  ``H_ii = P_i M^{-1} D_i`` (``P_i = d r_i / d theta``; for WCLS this is the
  hat block ``X_i B X_i' W_i``). By the Woodbury identity
  ``(I - P M^{-1} D)^{-1} = I + P (M - D P)^{-1} D``, so the corrected score
  is ``D_i (I - H_ii)^{-1} r_i = M (M - G_i)^{-1} U_i`` with the k x k matrix
  ``G_i = D_i P_i``. The corrected covariance is therefore ``sum_i v_i v_i'``
  with ``v_i = (M - G_i)^{-1} U_i``: a k x k solve per participant, linear in
  the number of decision points instead of cubic.

All per-participant sums are grouped sums over rows sorted by participant
(``np.add.reduceat``) or one batched matrix product over participants padded
to the same length; no Python loop runs over participants.
"""

from __future__ import annotations

import numpy as np

from labmrt.errors import LabmrtError, Problem

# Padding participants to the longest one is used when it wastes at most this factor.
_PAD_WASTE = 2.0
# Row chunk of the unpadded fallback (bounds the n x k x k temporary).
_CHUNK_ROWS = 1 << 16
# Elements of one block of rows in ``weighted_normal_equations`` and ``residual_scores``:
# 1 MiB, about a core's L2 cache (4 MiB blocks were 3-5x slower here, 256 KiB ones 1.3x).
_BLOCK_ELEMENTS = 1 << 17


def grouped_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-participant sums of ``values`` (rows sorted by participant; group starts given)."""
    return np.add.reduceat(values, starts, axis=0)


def weighted_normal_equations(
    x: np.ndarray, w: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``X'WX`` and ``X'Wy`` for weights ``w >= 0``, reading ``X`` once.

    ``X'WX = Z'Z`` with ``Z = W^(1/2) X``: a symmetric product (BLAS syrk,
    half the work of a general one). ``Z`` is formed block by block of rows,
    so that it stays in the cache instead of being an n x k copy.
    """
    n, k = x.shape
    root = np.sqrt(w)
    ry = root * y
    xt = x.T  # C-contiguous when x is column-major, as the design is built
    rows = max(1, min(n, _BLOCK_ELEMENTS // max(k, 1)))
    buf = np.empty((k, rows))
    gram = np.zeros((k, k))
    rhs = np.zeros(k)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        zt = np.multiply(xt[:, lo:hi], root[lo:hi], out=buf[:, : hi - lo])
        gram += zt @ zt.T
        rhs += zt @ ry[lo:hi]
    return gram, rhs


def residual_scores(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, theta: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Per participant ``U_i = X_i' W_i (y_i - X_i theta)``.

    Taken a block of whole participants at a time, so that each block of
    ``X`` is read from memory once for both the residuals and the sums.
    """
    n, k = x.shape
    groups = starts.size
    ends = np.r_[starts[1:], n]
    rows = max(1, _BLOCK_ELEMENTS // max(k, 1))
    out = np.empty((groups, k))
    g0 = 0
    while g0 < groups:
        lo = starts[g0]
        g1 = max(g0 + 1, int(np.searchsorted(ends, lo + rows, side="right")))
        hi = ends[g1 - 1]
        xb = x[lo:hi]
        wr = w[lo:hi] * (y[lo:hi] - xb @ theta)
        out[g0:g1] = grouped_weighted_sum(xb, wr, starts[g0:g1] - lo)
        g0 = g1
    return out


def grouped_weighted_sum(x: np.ndarray, weight: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per participant ``sum_t weight_t x_t``, without an n x k temporary.

    A column-major ``x`` (as the design is built): when every participant has
    the same number of rows, one batched matrix-vector product over the
    (column, participant) blocks; otherwise column by column, each a
    contiguous run (a product into a reused buffer and ``np.add.reduceat``).
    Any other ``x``: the participant-by-row matrix holding ``weight`` is built
    directly in CSR form from the group starts, and multiplying it with ``x``
    is the grouped sum.
    """
    n = x.shape[0]
    if x.ndim == 2 and x.strides[0] == x.itemsize and n > 0:
        groups, k = starts.size, x.shape[1]
        size = n // groups
        if n == groups * size and np.array_equal(starts, np.arange(0, n, size)):
            blocks = x.T.reshape(k, groups, 1, size)
            return np.matmul(blocks, weight.reshape(groups, size, 1))[:, :, 0, 0].T
        out = np.empty((starts.size, x.shape[1]))
        buf = np.empty(n)
        for j in range(x.shape[1]):
            np.multiply(x[:, j], weight, out=buf)
            out[:, j] = np.add.reduceat(buf, starts)
        return out
    from scipy import sparse

    indptr = np.r_[starts, n]
    ind = sparse.csr_matrix((weight, np.arange(n), indptr), shape=(starts.size, n))
    return np.asarray(ind @ x)


def group_cross(a: np.ndarray, b: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``(N, k, l)``: per participant ``sum_t a_t b_t'`` for row vectors ``a`` (n x k), ``b``."""
    n, k = a.shape
    m = b.shape[1]
    sizes = np.diff(np.r_[starts, n])
    groups = starts.size
    tmax = int(sizes.max())
    if groups * tmax <= _PAD_WASTE * n:
        if np.all(sizes == tmax):
            ap = a.reshape(groups, tmax, k)
            bp = b.reshape(groups, tmax, m)
        else:
            pos = np.arange(n) - np.repeat(starts, sizes)
            cl = np.repeat(np.arange(groups), sizes)
            ap = np.zeros((groups, tmax, k))
            bp = np.zeros((groups, tmax, m))
            ap[cl, pos] = a
            bp[cl, pos] = b
        return np.matmul(ap.transpose(0, 2, 1), bp)
    # Very unequal participants: chunks of whole participants, grouped sums of outer products.
    out = np.empty((groups, k, m))
    ends = np.r_[starts[1:], n]
    g0 = 0
    while g0 < groups:
        g1 = g0 + 1
        while g1 < groups and ends[g1] - starts[g0] <= _CHUNK_ROWS:
            g1 += 1
        lo, hi = starts[g0], ends[g1 - 1]
        outer = a[lo:hi, :, None] * b[lo:hi, None, :]
        out[g0:g1] = np.add.reduceat(outer, starts[g0:g1] - lo, axis=0)
        g0 = g1
    return out


def sandwich(m: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``M^{-1} (sum_i U_i U_i') M^{-T}``: the plain cluster sandwich."""
    minv = np.linalg.inv(m)
    meat = scores.T @ scores
    return minv @ meat @ minv.T


def sandwich_corrected(
    m: np.ndarray,
    scores: np.ndarray,
    cross: np.ndarray,
    participants: np.ndarray | None = None,
) -> np.ndarray:
    """Mancl-DeRouen corrected sandwich ``sum_i v_i v_i'``, ``v_i = (M - G_i)^{-1} U_i``."""
    a = m[None, :, :] - cross
    try:
        v = np.linalg.solve(a, scores[..., None])[..., 0]
    except np.linalg.LinAlgError:
        v = None
    if v is None or not np.all(np.isfinite(v)):
        bad = [i for i in range(a.shape[0]) if np.linalg.matrix_rank(a[i]) < a.shape[1]]
        who = ", ".join(str(participants[i] if participants is not None else i) for i in bad[:5])
        raise LabmrtError(
            Problem(
                "small-sample correction",
                f"participant(s) {who} alone determine a coefficient (leverage 1), so "
                "(I - H_ii) cannot be inverted",
                "use fewer moderators/controls, or --small-sample never",
            )
        )
    return v.T @ v


def sandwich_dense_loop(
    x: np.ndarray,
    w: np.ndarray,
    r: np.ndarray,
    starts: np.ndarray,
    bread: np.ndarray,
    corrected: bool,
) -> np.ndarray:
    """The textbook WCLS sandwich: a Python loop over participants, dense T x T correction.

    ``bread`` is ``(X'WX)^{-1}``. Kept as the independent check of the fast
    path (tests) and as the baseline of ``bench/bench_wcls.py``.
    """
    k = x.shape[1]
    meat = np.zeros((k, k))
    ends = np.r_[starts[1:], x.shape[0]]
    for s, e in zip(starts, ends, strict=True):
        xi, wi, ri = x[s:e], w[s:e], r[s:e]
        if corrected:
            h = xi @ bread @ (xi.T * wi)
            ri = np.linalg.solve(np.eye(e - s) - h, ri)
        u = xi.T @ (wi * ri)
        meat += np.outer(u, u)
    return bread @ meat @ bread
