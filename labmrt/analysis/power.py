"""Sample size and power for micro-randomized trials (phase 4 of the MRT process).

The method is that of Liao, Klasnja, Tewari & Murphy (2016), "Sample size
calculations for micro-randomized trials in mHealth", Stat Med 35(12):1944-71
(doi:10.1002/sim.6847), as offered by the public MRT-SS calculator and the R
package MRTSampleSize (Seewald, Sun & Liao, arXiv:1609.00695). It is restated
here from the paper's formulas:

* The study has ``D`` days with ``K`` decision points each (``T = D * K``).
  The standardized proximal effect ``beta_t``, the expected availability
  ``tau_t`` and the randomization probability ``rho_t`` are given per decision
  point; trajectories given by shape are constant within a day, as in the
  reference.
* The effect is modelled as ``Z_t' beta`` with ``Z_t = (1, d, d^2)[:p]``,
  ``d = 0, ..., D - 1`` the day index, ``p`` = 1, 2 or 3 for a constant,
  linear or quadratic effect. The working (null) model has ``q`` parameters
  (3 in the public calculator).
* The effect coefficients the test targets are the availability-weighted
  projection ``beta = (sum_t tau_t Z_t Z_t')^{-1} sum_t tau_t Z_t beta_t``,
  and with a unit residual variance (the effects are standardized)
  ``Sigma^{-1} = sum_t tau_t rho_t (1 - rho_t) Z_t Z_t'``.
* The Hotelling-type statistic, scaled by ``(N - q - p) / (p (N - q - 1))``,
  is compared with the ``F(p, N - q - p)`` quantile at ``1 - alpha``; under the
  alternative it follows a non-central F with non-centrality
  ``c_N = N beta' Sigma^{-1} beta``. The power is the non-central tail above
  the central critical value, and the sample size is the smallest ``N`` whose
  power reaches the target.

Lab studies are usually "sessions x decision points per session": a session
plays the role of a day (see :func:`sessions_to_days`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import stats

from labmrt.errors import LabmrtError, Problem

Shape = Literal["constant", "linear", "quadratic"]
SHAPES: tuple[str, ...] = ("constant", "linear", "quadratic")
DEGREE_OF_SHAPE: dict[str, int] = {"constant": 1, "linear": 2, "quadratic": 3}
DEFAULT_NULL_PARAMS = 3

# Largest number of participants searched before declaring the power out of reach.
_N_SEARCH_LIMIT = 10**9


@dataclass(frozen=True)
class Trajectory:
    """A quantity that changes over the days of the study, given as the reference does.

    ``mean`` is the average over the days; ``initial`` the value on day 1
    (linear and quadratic shapes); ``max_day`` the day (1-based, may be
    fractional) at which a quadratic shape turns (its maximum for an effect
    that starts below its mean).
    """

    shape: Shape
    mean: float
    initial: float | None = None
    max_day: float | None = None

    def per_day(self, days: int, what: str = "trajectory") -> np.ndarray:
        """The value on each of ``days`` days."""
        return trajectory_per_day(self, days, what)


def trajectory_per_day(traj: Trajectory, days: int, what: str = "trajectory") -> np.ndarray:
    """Values of a constant, linear or quadratic trajectory on days 1..days.

    Linear: a straight line from ``initial`` on day 1 whose day average is
    ``mean`` (so it ends at ``2 * mean - initial``). Quadratic:
    ``initial + b s + c s^2`` over ``s = day - 1`` with its turning point at
    ``s = max_day - 1`` and its day average equal to ``mean``.
    """
    if traj.shape not in SHAPES:
        raise LabmrtError(
            Problem(what, f"unknown shape {traj.shape!r}", "use constant, linear or quadratic")
        )
    if traj.shape == "constant":
        return np.full(days, float(traj.mean))
    if traj.initial is None:
        raise LabmrtError(
            Problem(what, f"a {traj.shape} shape needs its initial value", "give the initial value")
        )
    s = np.arange(days, dtype=float)
    if days == 1:
        return np.full(1, float(traj.mean))
    mean, initial = float(traj.mean), float(traj.initial)
    if traj.shape == "linear":
        return initial + 2.0 * (mean - initial) / (days - 1) * s
    if traj.max_day is None:
        raise LabmrtError(
            Problem(what, "a quadratic shape needs the day of its maximum", "give the max day")
        )
    turn = float(traj.max_day) - 1.0
    # b = -2 c turn (turning point); c from sum(b s + c s^2) = (mean - initial) * days.
    denom = float(np.sum(s**2) - 2.0 * turn * np.sum(s))
    if abs(denom) < 1e-9 * max(1.0, float(np.sum(s**2))):
        raise LabmrtError(
            Problem(
                what,
                f"a quadratic turning on day {traj.max_day:g} of {days} has the same mean for every "
                "curvature, so the mean cannot pin it down",
                "move the day of the maximum",
            )
        )
    c = (mean - initial) * days / denom
    b = -2.0 * c * turn
    return initial + b * s + c * s**2


def sessions_to_days(sessions: int, per_session: int) -> tuple[int, int]:
    """Map a lab study of ``sessions`` x ``per_session`` decision points onto days x per day.

    A session takes the place of a day: trajectories are constant within a
    session and change from session to session, and "day of the maximum" means
    "session of the maximum". A study with one session per participant whose
    effect may change from task to task is entered as ``days = decision points``
    and ``per day = 1``.
    """
    return int(sessions), int(per_session)


@dataclass(frozen=True)
class StudyDesign:
    """Everything the calculation needs about the planned study.

    ``prob``: one randomization probability, or one per day, or one per
    decision point. ``availability``/``effect``: a :class:`Trajectory`, or a
    vector per day or per decision point. ``effect_degree`` (p) is taken from
    the effect's shape; give it for a vector effect (default 3, quadratic).
    """

    days: int
    per_day: int
    prob: float | Sequence[float] | np.ndarray
    availability: Trajectory | Sequence[float] | np.ndarray
    effect: Trajectory | Sequence[float] | np.ndarray
    effect_degree: int | None = None

    @property
    def decision_points(self) -> int:
        return self.days * self.per_day


@dataclass
class PowerResult:
    """The outcome of a power or sample-size calculation, ready for JSON."""

    n: int
    power: float
    alpha: float
    target_power: float | None
    effect_params: int  # p
    null_params: int  # q
    df1: int
    df2: int
    critical_value: float
    noncentrality: float
    noncentrality_per_participant: float
    days: int
    per_day: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "power": self.power,
            "alpha": self.alpha,
            "target_power": self.target_power,
            "effect_params": self.effect_params,
            "null_params": self.null_params,
            "df1": self.df1,
            "df2": self.df2,
            "critical_value": self.critical_value,
            "noncentrality": self.noncentrality,
            "noncentrality_per_participant": self.noncentrality_per_participant,
            "days": self.days,
            "per_day": self.per_day,
            "decision_points": self.days * self.per_day,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Prepared:
    p: int
    c1: float  # non-centrality per participant: beta' Sigma^{-1} beta
    warnings: tuple[str, ...]


def _per_point(values, design: StudyDesign, what: str) -> np.ndarray:
    """Expand a scalar, a per-day or a per-decision-point vector to one value per point."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1:
        raise LabmrtError(Problem(what, "must be a number or a flat list of numbers"))
    if arr.size == 1:
        return np.full(design.decision_points, float(arr[0]))
    if arr.size == design.days:
        return np.repeat(arr, design.per_day)
    if arr.size == design.decision_points:
        return arr
    raise LabmrtError(
        Problem(
            what,
            f"has {arr.size} values, but the study has {design.days} days and "
            f"{design.decision_points} decision points",
            f"give 1, {design.days} (one per day) or {design.decision_points} "
            "(one per decision point) values",
        )
    )


def _check_design(design: StudyDesign) -> None:
    for name, value in (("days", design.days), ("per day", design.per_day)):
        if int(value) != value or value < 1:
            raise LabmrtError(
                Problem(name, f"must be a whole number of at least 1, got {value!r}", "")
            )


def _prepare(design: StudyDesign) -> _Prepared:
    _check_design(design)
    warnings: list[str] = []
    days, k = design.days, design.per_day

    rho = _per_point(design.prob, design, "randomization probability")
    bad = np.flatnonzero(~((rho > 0) & (rho < 1)))
    if bad.size:
        raise LabmrtError(
            Problem(
                "randomization probability",
                f"must lie strictly between 0 and 1; decision point {bad[0] + 1} has {rho[bad[0]]:g}",
                "use probabilities in (0, 1)",
            )
        )

    if isinstance(design.availability, Trajectory):
        av = design.availability
        if not (0 < av.mean <= 1):
            raise LabmrtError(
                Problem("availability mean", f"must lie in (0, 1], got {av.mean:g}", "")
            )
        tau = np.repeat(trajectory_per_day(av, days, "availability"), k)
    else:
        tau = _per_point(design.availability, design, "availability")
    bad = np.flatnonzero(~((tau > 0) & (tau <= 1 + 1e-12)))
    if bad.size:
        day = bad[0] // k + 1
        raise LabmrtError(
            Problem(
                "availability",
                f"must lie in (0, 1] on every day; day {day} has {tau[bad[0]]:.4g}",
                "change the mean, the initial value or the day of the turning point",
            )
        )

    if isinstance(design.effect, Trajectory):
        ef = design.effect
        if not ef.mean > 0:
            raise LabmrtError(
                Problem(
                    "effect mean",
                    f"must be a positive standardized effect, got {ef.mean:g}",
                    "code the treatment so that the expected effect is positive",
                )
            )
        if ef.shape in ("linear", "quadratic") and ef.initial is not None and ef.initial < 0:
            raise LabmrtError(
                Problem(
                    "effect initial value",
                    f"must be 0 or more, got {ef.initial:g}",
                    "give a non-negative initial effect",
                )
            )
        if ef.shape == "quadratic" and ef.initial is not None and ef.initial > ef.mean:
            raise LabmrtError(
                Problem(
                    "effect initial value",
                    f"{ef.initial:g} is above the mean {ef.mean:g}, so the quadratic would have a "
                    "minimum, not a maximum",
                    "give an initial effect at most the mean, or use a linear shape",
                )
            )
        beta_t = np.repeat(trajectory_per_day(ef, days, "effect"), k)
        p = DEGREE_OF_SHAPE[ef.shape] if design.effect_degree is None else design.effect_degree
    else:
        beta_t = _per_point(design.effect, design, "effect")
        p = 3 if design.effect_degree is None else design.effect_degree
    if not np.all(np.isfinite(beta_t)):
        raise LabmrtError(Problem("effect", "has values that are not finite numbers"))
    if np.any(beta_t < 0):
        first = int(np.flatnonzero(beta_t < 0)[0] // k + 1)
        warnings.append(
            f"the effect trajectory is negative from day {first} on; check the day of the maximum"
        )
    if p not in (1, 2, 3):
        raise LabmrtError(Problem("effect degree", f"must be 1, 2 or 3, got {p}", ""))
    if days < p:
        raise LabmrtError(
            Problem(
                "effect shape",
                f"a {SHAPES[p - 1]} effect needs at least {p} days (sessions), the study has {days}",
                "use a simpler shape, or enter each decision point as a day (per day = 1)",
            )
        )

    day_index = np.repeat(np.arange(days, dtype=float), k)
    z = np.vander(day_index, p, increasing=True)  # columns 1, d, d^2
    gram_tau = z.T @ (tau[:, None] * z)
    coef = np.linalg.solve(gram_tau, z.T @ (tau * beta_t))
    sigma_inv = z.T @ ((tau * rho * (1 - rho))[:, None] * z)
    c1 = float(coef @ sigma_inv @ coef)
    if not c1 > 0:
        raise LabmrtError(
            Problem("effect", "is zero for the tested effect model, so no study size has power")
        )
    return _Prepared(p=p, c1=c1, warnings=tuple(warnings))


def _check_level(name: str, value: float) -> None:
    if not (0 < value < 1):
        raise LabmrtError(Problem(name, f"must lie strictly between 0 and 1, got {value:g}", ""))


def _check_null_params(q: int) -> None:
    if int(q) != q or q < 1:
        raise LabmrtError(
            Problem("null params", f"must be a whole number of at least 1, got {q!r}", "")
        )


def _power_at(prep: _Prepared, n: int, alpha: float, q: int) -> tuple[float, int, float, float]:
    df2 = n - q - prep.p
    crit = float(stats.f.isf(alpha, prep.p, df2))
    ncp = n * prep.c1
    return float(stats.ncf.sf(crit, prep.p, df2, ncp)), df2, crit, ncp


def _result(prep, n, alpha, q, target, design) -> PowerResult:
    pw, df2, crit, ncp = _power_at(prep, n, alpha, q)
    return PowerResult(
        n=int(n),
        power=pw,
        alpha=alpha,
        target_power=target,
        effect_params=prep.p,
        null_params=int(q),
        df1=prep.p,
        df2=df2,
        critical_value=crit,
        noncentrality=ncp,
        noncentrality_per_participant=prep.c1,
        days=design.days,
        per_day=design.per_day,
        warnings=list(prep.warnings),
    )


def smallest_n(design: StudyDesign, null_params: int = DEFAULT_NULL_PARAMS) -> int:
    """The smallest number of participants for which the F test exists (df2 >= 1)."""
    prep = _prepare(design)
    return prep.p + int(null_params) + 1


def power(
    design: StudyDesign, n: int, alpha: float = 0.05, null_params: int = DEFAULT_NULL_PARAMS
) -> PowerResult:
    """Power of the Hotelling-type test with ``n`` participants."""
    _check_level("alpha", alpha)
    _check_null_params(null_params)
    prep = _prepare(design)
    n_min = prep.p + int(null_params) + 1
    if int(n) != n or n < n_min:
        raise LabmrtError(
            Problem(
                "n",
                f"{n!r} participants leave no degrees of freedom for p = {prep.p} effect and "
                f"q = {null_params} null parameters",
                f"give at least {n_min} participants",
            )
        )
    return _result(prep, int(n), alpha, null_params, None, design)


def sample_size(
    design: StudyDesign,
    target_power: float = 0.8,
    alpha: float = 0.05,
    null_params: int = DEFAULT_NULL_PARAMS,
) -> PowerResult:
    """The smallest number of participants whose power reaches ``target_power``.

    The power grows with N (the non-centrality grows linearly and the critical
    value falls), so the search brackets the answer by doubling and then
    bisects; there is no floor or ceiling beyond the F test's own
    ``N >= p + q + 1``.
    """
    _check_level("power", target_power)
    _check_level("alpha", alpha)
    _check_null_params(null_params)
    prep = _prepare(design)
    q = int(null_params)
    lo = prep.p + q + 1
    if _power_at(prep, lo, alpha, q)[0] >= target_power:
        return _result(prep, lo, alpha, q, target_power, design)
    hi = lo
    while _power_at(prep, hi, alpha, q)[0] < target_power:
        lo = hi
        hi *= 2
        if hi > _N_SEARCH_LIMIT:
            raise LabmrtError(
                Problem(
                    "effect",
                    f"is too small to reach power {target_power:g} with fewer than "
                    f"{_N_SEARCH_LIMIT:,} participants",
                    "check the effect size and the study length",
                )
            )
    # Invariant: power(lo) < target <= power(hi).
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _power_at(prep, mid, alpha, q)[0] >= target_power:
            hi = mid
        else:
            lo = mid
    return _result(prep, hi, alpha, q, target_power, design)


def power_curve(
    design: StudyDesign,
    ns: Sequence[int] | np.ndarray,
    alpha: float = 0.05,
    null_params: int = DEFAULT_NULL_PARAMS,
) -> np.ndarray:
    """Power for each number of participants in ``ns`` (all must be at least p + q + 1)."""
    _check_level("alpha", alpha)
    prep = _prepare(design)
    ns = np.asarray(ns, dtype=int)
    df2 = ns - int(null_params) - prep.p
    if np.any(df2 < 1):
        raise LabmrtError(Problem("n", f"must be at least {prep.p + null_params + 1}", ""))
    crit = stats.f.isf(alpha, prep.p, df2)
    return stats.ncf.sf(crit, prep.p, df2, ns * prep.c1)


def plot_power_curve(
    design: StudyDesign,
    path: str | Path,
    result: PowerResult,
    alpha: float = 0.05,
    null_params: int = DEFAULT_NULL_PARAMS,
) -> Path:
    """Save a PNG of power against the number of participants, marking ``result``."""
    from labmrt.analysis.plot import agg_figure, save_figure

    n_min = result.effect_params + int(null_params) + 1
    n_max = max(n_min + 10, int(math.ceil(result.n * 2.0)))
    ns = np.arange(n_min, n_max + 1)
    pw = power_curve(design, ns, alpha, null_params)
    fig = agg_figure((6.4, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(ns, pw, color="tab:blue", lw=1.8, label="power")
    if result.target_power is not None:
        ax.axhline(result.target_power, color="grey", ls="--", lw=1, label="target power")
    ax.axvline(result.n, color="tab:red", ls=":", lw=1.2)
    ax.plot([result.n], [result.power], "o", color="tab:red")
    ax.annotate(
        f"N = {result.n}, power = {result.power:.3f}",
        (result.n, result.power),
        textcoords="offset points",
        xytext=(8, -14),
    )
    ax.set_xlabel("participants (N)")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.set_title(
        f"MRT power: {design.days} days x {design.per_day} decision points, alpha = {alpha:g}, "
        f"p = {result.effect_params}, q = {null_params}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def read_probabilities(path: str | Path) -> np.ndarray:
    """One randomization probability per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise LabmrtError(
            Problem(str(path), f"cannot read: {err.strerror or err}", "give a readable file")
        ) from err
    values: list[float] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().rstrip(",")
        if not line:
            continue
        try:
            values.append(float(line))
        except ValueError:
            raise LabmrtError(
                Problem(
                    f"{path}:{lineno}",
                    f"{line!r} is not a number",
                    "write one probability per line",
                )
            ) from None
    if not values:
        raise LabmrtError(Problem(str(path), "holds no probabilities", "one per line"))
    return np.asarray(values)
