"""Simulated MRTs with known causal excursion effects, for bias and CI coverage checks.

Data-generating model (per participant i, decision point t):

- affective state ``S_t`` ~ Bernoulli(0.4) (aroused), a covariate ``x_t`` ~ N(0, 1),
  availability ``I_t`` ~ Bernoulli(0.8), independent of each other;
- randomization probability ``p_t``: a constant 0.4, or context-dependent,
  0.3 when calm and 0.7 when aroused; ``A_t`` ~ Bernoulli(p_t) when available;
- outcome ``Y = u_i + 0.5 x_t + 0.3 S_t + A_t (b0 + b1 S_t) + e_t`` with a
  participant effect ``u_i`` ~ N(0, 0.5^2) and AR(1) errors (rho 0.5), so
  the outcomes of a participant are correlated, as the sandwich must allow.

Truth: the moderated effect is ``(b0, b1)``; the marginal effect (numerator
probability constant) is the average effect over available decision points,
``b0 + 0.4 b1`` because S is independent of availability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from labmrt.analysis.design import Design
from labmrt.analysis.wcls import fit_design

P_AROUSED = 0.4


@dataclass(frozen=True)
class Scenario:
    name: str
    context_prob: bool
    moderated: bool
    b0: float
    b1: float

    @property
    def truth(self) -> np.ndarray:
        if self.moderated:
            return np.array([self.b0, self.b1])
        return np.array([self.b0 + P_AROUSED * self.b1])

    @property
    def terms(self) -> list[str]:
        return ["(Intercept)", "aroused"] if self.moderated else ["(Intercept)"]


SCENARIOS = [
    Scenario("marginal, constant p = 0.4", False, False, 0.3, 0.0),
    Scenario("marginal, p by state, effect by state", True, False, 0.2, 0.4),
    Scenario("moderated by state, p by state", True, True, 0.2, 0.4),
]


def simulate_design(
    rng: np.random.Generator, scenario: Scenario, n: int = 30, t: int = 50
) -> Design:
    """One simulated trial as a ready WCLS design (controls: x and S; numerator 0.5)."""
    rows = n * t
    s = (rng.random(rows) < P_AROUSED).astype(float)
    x = rng.standard_normal(rows)
    avail = rng.random(rows) < 0.8
    p = np.where(s == 1, 0.7, 0.3) if scenario.context_prob else np.full(rows, 0.4)
    a = ((rng.random(rows) < p) & avail).astype(float)
    e = np.empty((n, t))
    z = rng.standard_normal((n, t))
    e[:, 0] = z[:, 0]
    for j in range(1, t):
        e[:, j] = 0.5 * e[:, j - 1] + np.sqrt(1 - 0.25) * z[:, j]
    u = np.repeat(0.5 * rng.standard_normal(n), t)
    y = u + 0.5 * x + 0.3 * s + a * (scenario.b0 + scenario.b1 * s) + e.ravel()
    ones = np.ones(rows)
    g = np.column_stack([ones, x, s])
    mods = np.column_stack([ones, s]) if scenario.moderated else ones[:, None]
    return Design(
        y=y,
        g=g,
        s=mods,
        a=a,
        prob=p,
        num_prob=np.full(rows, 0.5),
        used=avail,
        starts=np.arange(0, rows, t),
        participants=np.arange(n),
        control_names=["(Intercept)", "x", "aroused"],
        effect_names=scenario.terms,
        treatment_label="I(A - 0.5)",
        row_order=np.arange(rows),
    )


def run_coverage(
    scenario: Scenario,
    trials: int,
    *,
    n: int = 30,
    t: int = 50,
    seed: int = 0,
    conf_level: float = 0.95,
) -> list[dict]:
    """Bias, SD, mean SE and CI coverage (corrected and plain) per effect term."""
    rng = np.random.default_rng(seed)
    k_eff = len(scenario.terms)
    est = np.empty((trials, k_eff))
    se = np.empty((trials, k_eff))
    se_plain = np.empty((trials, k_eff))
    dfs = np.empty(trials)
    for i in range(trials):
        design = simulate_design(rng, scenario, n, t)
        fit = fit_design(design, small_sample="always")
        q = design.q
        est[i] = fit.theta[q:]
        se[i] = np.sqrt(np.diag(fit.cov)[q:])
        se_plain[i] = np.sqrt(np.diag(fit.cov_uncorrected)[q:])
        dfs[i] = fit.df
    crit = stats.t.isf((1 - conf_level) / 2, dfs)[:, None]
    truth = scenario.truth[None, :]
    covered = np.abs(est - truth) <= crit * se
    covered_plain = np.abs(est - truth) <= crit * se_plain
    out = []
    for j, term in enumerate(scenario.terms):
        out.append(
            {
                "scenario": scenario.name,
                "term": term,
                "truth": float(scenario.truth[j]),
                "mean_estimate": float(est[:, j].mean()),
                "bias": float(est[:, j].mean() - scenario.truth[j]),
                "mc_se_bias": float(est[:, j].std(ddof=1) / np.sqrt(trials)),
                "sd_estimate": float(est[:, j].std(ddof=1)),
                "mean_se": float(se[:, j].mean()),
                "coverage": float(covered[:, j].mean()),
                "coverage_uncorrected": float(covered_plain[:, j].mean()),
                "trials": trials,
            }
        )
    return out
