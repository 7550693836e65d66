"""The numbers under the classifier: the model scale, the ridge logistic fit, blocked CV.

HRV indices (RMSSD, SDNN, HF, LF, LF/HF) are log-normally distributed
across and within people, so they enter as natural logs, as is usual in HRV
research (e.g. ln RMSSD, Plews et al. 2013, Sports Med 43:773); a fall from
100 to 50 ms then weighs as much as one from 20 to 10 ms.

Rest standard deviations have floors (:data:`SD_FLOOR`, and 5% of the mean):
consecutive windows overlap, so their spread understates how much a calm
participant varies, and a feature that sat still at rest (no SCR in any
window) must not turn the first response into an infinite z-score. z-scores
are clipped to +-:data:`Z_CLIP`.

The logistic fit carries a small ridge penalty (:data:`RIDGE`, on the z
scale; intercept free) and balanced class weights: windows of two
calibration phases are usually perfectly separable, where the unpenalised
maximum-likelihood estimate does not exist. How well a calibration
separated is the area under the ROC curve of held-out windows
(:func:`blocked_cv_auc`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.stats import mannwhitneyu

from sensors.state.feature_sets import AROUSAL_SIGN

#: Features that enter the model as natural logs (HRV indices are log-normal).
LOG_FEATURES: frozenset[str] = frozenset({"rmssd", "sdnn", "hf", "lf", "lf_hf"})
#: Smallest rest standard deviation per feature, in its unit (see the module docstring).
SD_FLOOR: dict[str, float] = {
    "hr": 1.0,  # bpm
    "hr_fast": 1.0,  # bpm
    "scl_fast": 0.05,  # uS
    "scl_rise": 0.05,  # uS
    "scl_ahead": 0.05,  # uS
    "rmssd": 0.1,  # ln ms (10%)
    "sdnn": 0.1,  # ln ms
    "hf": 0.2,  # ln ms^2
    "lf": 0.2,  # ln ms^2
    "lf_hf": 0.2,  # ln ratio
    "scl": 0.05,  # uS
    "scr_rate": 1.0,  # per min
    "scr_amp": 0.02,  # uS
}
SD_FLOOR_REL = 0.05  # of the rest mean, for the features not on a log scale
#: z-scores are clipped to plus or minus this.
Z_CLIP = 10.0
#: Ridge penalty of the logistic fit, on the z scale (the intercept is free).
RIDGE = 1.0
CV_FOLDS = 3

FeatureRow = Mapping[str, float | None]


def model_value(row: FeatureRow, name: str) -> float | None:
    """The feature on the model's scale (natural log for :data:`LOG_FEATURES`), or None."""
    v = row.get(name)
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    if name in LOG_FEATURES:
        v = math.log(v) if v > 0 else math.nan
    return v if math.isfinite(v) else None


def feature_matrix(rows: Sequence[FeatureRow], names: Sequence[str]) -> np.ndarray:
    out = np.full((len(rows), len(names)), np.nan)
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            v = model_value(row, name)
            if v is not None:
                out[i, j] = v
    return out


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    ridge: float = RIDGE,
    weights: np.ndarray | None = None,
    signs: Sequence[int] | None = None,
) -> tuple[float, np.ndarray]:
    """Ridge-penalised logistic regression: ``(intercept, coefficients)``.

    Minimises ``-sum w_i loglik_i / sum w_i + ridge / (2 n_eff) |beta|^2`` with
    L-BFGS and the exact gradient; the intercept is not penalised. ``signs``
    (+1, -1 or 0 per column) bounds each coefficient to that sign (0: free).
    """
    n, k = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    design = np.column_stack([np.ones(n), x])
    pen = np.r_[0.0, np.full(k, ridge / n)]

    def loss(theta):
        eta = design @ theta
        # log(1 + exp(eta)) - y * eta, written to stay finite for large |eta|
        ll = np.logaddexp(0.0, eta) - y * eta
        grad = design.T @ (w * (1.0 / (1.0 + np.exp(-eta)) - y)) + pen * theta
        return float(w @ ll + 0.5 * pen @ theta**2), grad

    bounds = None
    if signs is not None:
        bounds = [(None, None)] + [
            (0.0, None) if sg > 0 else (None, 0.0) if sg < 0 else (None, None) for sg in signs
        ]
    res = minimize(loss, np.zeros(k + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return float(res.x[0]), res.x[1:]


def floored_sd(name: str, col: np.ndarray) -> tuple[float, float]:
    """Rest mean and floored SD of one feature column (see the module doc)."""
    col = col[np.isfinite(col)]
    mu = float(col.mean())
    sd = float(col.std(ddof=1)) if col.size > 1 else 0.0
    rel = 0.0 if name in LOG_FEATURES else SD_FLOOR_REL * abs(mu)
    return mu, max(sd, SD_FLOOR.get(name, 1e-6), rel)


def _standardize(rest: np.ndarray, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    cols = [floored_sd(n, rest[:, j]) for j, n in enumerate(names)]
    mu = np.array([c[0] for c in cols])
    sd = np.array([c[1] for c in cols])
    return np.clip((x - mu) / sd, -Z_CLIP, Z_CLIP)


def auc(scores: np.ndarray, y: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U / n1 n0); None without both classes."""
    s1, s0 = scores[y == 1], scores[y == 0]
    if s1.size == 0 or s0.size == 0:
        return None
    return float(mannwhitneyu(s1, s0).statistic / (s1.size * s0.size))


def blocked_cv_auc(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    names: Sequence[str],
    purge_s: float,
    folds: int = CV_FOLDS,
) -> float | None:
    """Cross-validated AUC of the calibration rows ``x`` (raw values, model scale).

    Each class is cut into ``folds`` consecutive blocks in time; fold k holds
    out block k of both classes, and training drops every row within
    ``purge_s`` (the longest feature window) of a held-out row, since
    overlapping windows share signal (blocked CV, Roberts et al. 2017,
    Ecography 40:913). The baseline (rest mean and SD) and the logistic
    weights are refitted on each training part, exactly as
    :meth:`AffectClassifier.fit <sensors.state.classifier.AffectClassifier.fit>` does
    (with the same sign constraints).
    """
    scores, truth = [], []
    for k in range(folds):
        test = np.zeros(len(y), dtype=bool)
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            idx = idx[np.argsort(t[idx], kind="stable")]
            test[np.array_split(idx, folds)[k]] = True
        if not test.any():
            continue
        t_test = t[test]
        near = np.abs(t[:, None] - t_test[None, :]).min(axis=1) < purge_s
        train = ~test & ~near
        ytr = y[train]
        if (ytr == 0).sum() < 3 or (ytr == 1).sum() < 3:
            continue
        rest = x[train][ytr == 0]
        ztr = _standardize(rest, x[train], names)
        w = np.where(ytr == 1, 0.5 / ytr.mean(), 0.5 / (1 - ytr.mean()))
        b0, b = fit_logistic(ztr, ytr, weights=w, signs=[AROUSAL_SIGN.get(n, 0) for n in names])
        zte = _standardize(rest, x[test], names)
        scores.append(b0 + zte @ b)
        truth.append(y[test])
    if not scores:
        return None
    return auc(np.concatenate(scores), np.concatenate(truth))


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(v, 500.0), -500.0)))
