"""Simulated studies of a protocol, drawn through its own randomizer and analyzed in batches.

One simulated study ("trial") is ``n_max`` participants of one session each;
the power at ``N < n_max`` participants analyzes its first ``N`` (the sample
sizes are nested, as when a study is stopped earlier: the power curve is then
monotone up to Monte Carlo error and every participant is drawn once). Every
random number of trial ``j`` comes from ``SeedSequence([seed, j])`` and the
participants' codes, so a trial is the same whichever process or machine
runs it.

Per participant and decision point (the protocol's decision tasks, in order):

* the true state follows a two-state Markov chain: stationary share aroused
  ``pi``, lag-1 autocorrelation ``rho`` (P(aroused -> aroused) = pi + (1 - pi) rho,
  P(calm -> aroused) = pi (1 - rho)), the first point drawn from ``pi``;
* the classifier reports the true state with probability ``accuracy``;
* availability is Bernoulli(share available, overall or by true state);
* the arm and every arm's probability come from
  :meth:`~labmrt.session.randomizer.MicroRandomizer.draw_block` of the
  participant's own stream (study seed, code, session 1), given the reported
  state as context and the availability: the very draws the session engine
  makes for that participant (the minimum spacing between decision points is
  taken as met: the protocol's tasks last longer);
* the framing is received with probability ``receipt``;
* the outcome is ``baseline[s] + b_i + R effect[arm][s] + e`` (continuous,
  ``e ~ N(0, sd)``, ``b_i ~ N(0, participant_sd)``), or a 0/1 use with that
  probability (binary, clipped to [0, 1]; effects stated as relative risks are
  ``baseline x (RR - 1)`` here).

Each trial is analyzed as ``labmrt analyze --contrast T-vs-C --moderator
affect_state --availability available`` would analyze its export: rows drawn
outside the contrast are left out, the contrast's probability is
``p_T / (p_T + p_C)``, the numerator probability 0.5 unless given, the
moderator's reference level the first in sorted order (``aroused``, so the
terms are ``(Intercept)`` = the effect when aroused and ``affect_statecalm``
= calm minus aroused), the moderator also a control, and the Mancl-DeRouen
correction when at most 50 participants carry weight. A binary outcome is
analyzed as ``labmrt analyze --binary`` does: EMEE (Qian et al. 2021,
MRTAnalysis ``emee()``), the log relative risk, every participant counted in
the df, the correction always unless ``small_sample`` says otherwise. The fits
are batched over trials (:func:`labmrt.analysis.batch.fit_from_sums`,
:func:`labmrt.analysis.batch.fit_emee_batched`); the tests check them against
the analyzer's ``wcls()`` and ``emee()`` on the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labmrt.analysis.batch import EmeeRows, emee_features, fit_emee_batched, fit_from_sums
from labmrt.powersim.effects import STATES, EffectsFile, contrasts_of
from labmrt.protocol import Protocol
from labmrt.session.randomizer import MicroRandomizer

SMALL_SAMPLE_MAX_N = 50  # MRTAnalysis wcls(): correction up to this many participants with weight
NUMERATOR_DEFAULT = 0.5  # MRTAnalysis 0.3.0 (and labmrt analyze) when none is given


def participant_code(seed: int, trial: int, index: int) -> str:
    """The code of simulated participant ``index`` (from 0) of ``trial``: its random stream."""
    return f"sim{seed}-t{trial}-p{index + 1:03d}"


@dataclass(frozen=True)
class Term:
    """One tested effect term of one outcome and contrast."""

    outcome: str
    treated: str
    control: str
    name: str  # as labmrt analyze names it: (Intercept), affect_statecalm
    meaning: str
    truth: float

    @property
    def label(self) -> str:
        return f"{self.outcome}: {self.treated} vs {self.control}: {self.name}"


@dataclass
class TrialData:
    """The first ``n`` participants x ``T`` decision points of simulated trials (leading axis B)."""

    true_aroused: np.ndarray  # (B, n, T) bool
    reported_aroused: np.ndarray  # (B, n, T) bool: the classifier's label, the moderator
    available: np.ndarray  # (B, n, T) bool
    arm: np.ndarray  # (B, n, T) arm index, -1 when unavailable
    probs: np.ndarray  # (B, n, T, arms)
    received: np.ndarray  # (B, n, T) bool
    y: dict[str, np.ndarray] = field(default_factory=dict)  # outcome -> (B, n, T)

    def first(self, n: int) -> TrialData:
        return TrialData(
            self.true_aroused[:, :n],
            self.reported_aroused[:, :n],
            self.available[:, :n],
            self.arm[:, :n],
            self.probs[:, :n],
            self.received[:, :n],
            {k: v[:, :n] for k, v in self.y.items()},
        )


@dataclass(frozen=True)
class SimPlan:
    """Everything one trial needs; small and picklable, so it travels to worker processes."""

    protocol: Protocol
    effects: EffectsFile
    n_max: int
    seed: int = 0

    @property
    def decision_points(self) -> int:
        return len(self.protocol.decision_task_indices())

    def terms(self) -> list[Term]:
        return build_terms(self.protocol, self.effects)


def _markov_states(rng: np.random.Generator, n: int, t: int, share: float, rho: float):
    stay = share + (1.0 - share) * rho  # P(aroused -> aroused)
    enter = share * (1.0 - rho)  # P(calm -> aroused)
    u = rng.random((n, t))
    out = np.empty((n, t), dtype=bool)
    out[:, 0] = u[:, 0] < share
    for k in range(1, t):
        out[:, k] = u[:, k] < np.where(out[:, k - 1], stay, enter)
    return out


def simulate_trial(plan: SimPlan, trial: int) -> TrialData:
    """One simulated study of ``plan.n_max`` participants (leading axis of length 1)."""
    protocol, eff = plan.protocol, plan.effects
    n, t = plan.n_max, plan.decision_points
    rng = np.random.default_rng(np.random.SeedSequence([int(plan.seed), int(trial)]))
    st = eff.states
    true_aroused = _markov_states(rng, n, t, st.aroused_share, st.persistence)
    wrong = rng.random((n, t)) >= st.accuracy
    reported = true_aroused ^ wrong
    share = np.where(
        true_aroused, eff.availability.for_state("aroused"), eff.availability.for_state("calm")
    )
    available = rng.random((n, t)) < share
    received = rng.random((n, t)) < eff.receipt
    context = protocol.context_variable
    arms = np.empty((n, t), dtype=np.int64)
    probs = np.empty((n, t, len(protocol.arm_ids)))
    labels = np.where(reported, "aroused", "calm")
    for i in range(n):
        contexts = {context: labels[i]} if context else {}
        rand = MicroRandomizer(protocol, participant_code(plan.seed, trial, i), 1)
        arms[i], probs[i] = rand.draw_block(contexts, available[i])
    ys = {}
    arm_ids = protocol.arm_ids
    delivered = available & received
    for name, out in eff.outcomes.items():
        base = np.where(true_aroused, out.baseline["aroused"], out.baseline["calm"])
        effect = np.zeros((n, t))
        for a, by_state in out.effects.items():
            here = delivered & (arms == arm_ids.index(a))
            effect += here * np.where(true_aroused, by_state["aroused"], by_state["calm"])
        b_i = rng.normal(0.0, 1.0, n)[:, None] * out.between_sd()
        if out.scale == "continuous":
            ys[name] = base + b_i + effect + rng.normal(0.0, float(out.sd), (n, t))
        else:
            p = np.clip(base + b_i + effect, 0.0, 1.0)
            ys[name] = (rng.random((n, t)) < p).astype(float)
    return TrialData(
        true_aroused[None],
        reported[None],
        available[None],
        arms[None],
        probs[None],
        received[None],
        {k: v[None] for k, v in ys.items()},
    )


def stack(trials: list[TrialData]) -> TrialData:
    return TrialData(
        *(
            np.concatenate([getattr(d, f) for d in trials])
            for f in (
                "true_aroused",
                "reported_aroused",
                "available",
                "arm",
                "probs",
                "received",
            )
        ),
        {k: np.concatenate([d.y[k] for d in trials]) for k in trials[0].y},
    )


def trial_frame(plan: SimPlan, data: TrialData, j: int):
    """Trial ``j`` of ``data`` as the long table ``labmrt export`` writes (one row per
    participant x decision point, ``arm`` and ``prob_<arm>`` columns), for ``labmrt analyze``."""
    import pandas as pd

    arms = plan.protocol.arm_ids
    _, n, t = data.arm.shape
    cols = {
        "participant": np.repeat([f"P{i + 1:03d}" for i in range(n)], t),
        "decision_point": np.tile(np.arange(t), n),
        "task_index": np.tile(np.asarray(plan.protocol.decision_task_indices()), n),
        "difficulty": np.tile(_controls(plan.protocol, ["difficulty"])[:, 0], n),
        "available": data.available[j].ravel().astype(int),
        "arm": [None if a < 0 else arms[a] for a in data.arm[j].ravel()],
        "affect_state": np.where(data.reported_aroused[j].ravel(), "aroused", "calm"),
        "received": data.received[j].ravel().astype(int),
        "baseline_arm": plan.protocol.baseline_arm.id,
    }
    for m, a in enumerate(arms):
        cols[f"prob_{a}"] = data.probs[j, :, :, m].ravel()
    for name, y in data.y.items():
        cols[name] = y[j].ravel()
    return pd.DataFrame(cols)


def small_sample_mode(option: str | None, binary: bool) -> str:
    """The effects file's ``small_sample``, else ``labmrt analyze``'s default for the estimator:
    ``auto`` for WCLS (MRTAnalysis ``wcls()``), ``always`` for EMEE (``emee()``)."""
    return option or ("always" if binary else "auto")


def analyze_single(plan: SimPlan, data: TrialData, j: int) -> np.ndarray:
    """Trial ``j`` analyzed one fit at a time by the analyzer (``labmrt.analysis.wcls``, or
    ``emee`` for a binary outcome; the check and the baseline of the batched :func:`analyze`):
    estimates, SEs, p-values (3 x terms)."""
    from labmrt.analysis import emee, wcls

    frame = trial_frame(plan, data, j)
    out = []
    for name, model in plan.effects.outcomes.items():
        binary = model.scale == "binary"
        spec = plan.effects.analysis_for(name)
        for treated, control in contrasts_of(plan.effects, plan.protocol, name):
            fit = (emee if binary else wcls)(
                frame,
                id="participant",
                outcome=name,
                moderators=[spec.moderator] if spec.moderator else [],
                controls=list(spec.controls),
                availability="available",
                contrast=f"{treated}-vs-{control}",
                baseline=plan.protocol.baseline_arm.id,
                numerator_prob=spec.numerator_prob,
                small_sample=small_sample_mode(spec.small_sample, binary),
                per_protocol=spec.per_protocol,
                received="received",
            )
            out.append(fit.table[["estimate", "std_error", "p_value"]].to_numpy().T)
    return np.concatenate(out, axis=1)


# --------------------------------------------------------------------------- the analysis
def _controls(protocol: Protocol, names: list[str]) -> np.ndarray:
    """Control columns per decision point (T x c), as the engine records them."""
    tasks = protocol.decision_task_indices()
    cols = []
    for name in names:
        if name == "task_index":
            cols.append(np.asarray(tasks, dtype=float))
        else:
            cols.append(np.asarray([protocol.tasks[i].difficulty or 0.0 for i in tasks], float))
    return np.stack(cols, axis=1) if cols else np.zeros((len(tasks), 0))


def analyze(
    plan: SimPlan, data: TrialData, starts: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, SEs and p-values (B x terms) of every trial in ``data``, terms as :func:`build_terms`.

    ``starts``: a dict the EMEE fits take their starting coefficients from and
    leave their solutions in, per outcome and contrast; with nested sample
    sizes, the solution at one N is a close start at the next (fewer Newton steps).
    """
    protocol, eff = plan.protocol, plan.effects
    b, n, t = data.arm.shape
    calm = (~data.reported_aroused).astype(float)  # dummy of the non-reference level
    ones = np.ones((b, n, t))
    features: dict = {}  # EMEE row features, shared by outcomes with the same design
    est, se, pv = [], [], []
    arm_ids = protocol.arm_ids
    for name, out in eff.outcomes.items():
        spec = eff.analysis_for(name)
        numerator = NUMERATOR_DEFAULT if spec.numerator_prob is None else spec.numerator_prob
        moderated = bool(spec.moderator)
        controls = _controls(protocol, list(spec.controls))
        g_cols: list[np.ndarray] = [ones] + ([calm] if moderated else [])
        g_cols += [np.broadcast_to(controls[:, j], (b, n, t)) for j in range(controls.shape[1])]
        s_cols = [ones] + ([calm] if moderated else [])
        p_s, q = len(s_cols), len(g_cols)
        effect_index = list(range(q, q + p_s))
        y = data.y[name]
        binary = out.scale == "binary"
        mode = small_sample_mode(spec.small_sample, binary)
        if binary:
            design = (moderated, tuple(spec.controls))
            if design not in features:
                emee_g, emee_s = np.stack(g_cols, axis=-1), np.stack(s_cols, axis=-1)
                features[design] = (emee_g, emee_s, emee_features(emee_g, emee_s))
            emee_g, emee_s, feats = features[design]
        for treated, control in contrasts_of(eff, protocol, name):
            ti, ci = arm_ids.index(treated), arm_ids.index(control)
            a = (data.arm == ti).astype(float)
            used = data.available & ((data.arm == ti) | (data.arm == ci))
            if spec.per_protocol:
                used &= data.received
            pt, pc = data.probs[..., ti], data.probs[..., ci]
            p = pt / (pt + pc)
            w = np.where(a == 1, numerator / p, (1 - numerator) / (1 - p)) * used
            if binary:
                # EMEE as emee(): every participant counts in the df and the correction rule.
                rows = EmeeRows(emee_g, emee_s, a, numerator, w, y)
                small = mode == "always" or (mode == "auto" and n <= SMALL_SAMPLE_MAX_N)
                key = (name, treated, control)
                start = None if starts is None else starts.get(key)
                fit = fit_emee_batched(
                    rows, effect_index, small, n - p_s - q, start=start, features=feats
                )
                if starts is not None:
                    starts[key] = fit.theta
            else:
                centred = a - numerator
                x = np.stack(g_cols + [centred * s for s in s_cols], axis=-1)  # (B, n, T, k)
                xw = x * w[..., None]
                xt = xw.transpose(0, 1, 3, 2)
                cxx = np.matmul(xt, x)  # (B, n, k, k)
                cxy = np.matmul(xt, y[..., None])[..., 0]
                n_eff = used.any(axis=2).sum(axis=1)
                if mode == "auto":
                    small = n_eff <= SMALL_SAMPLE_MAX_N
                else:
                    small = np.full(b, mode == "always")
                fit = fit_from_sums(cxx, cxy, effect_index, small, n_eff - p_s - q)
            est.append(fit.estimate)
            se.append(fit.se)
            pv.append(fit.p_value)
    return np.concatenate(est, axis=1), np.concatenate(se, axis=1), np.concatenate(pv, axis=1)


# --------------------------------------------------------------------------- the truth
def _state_weights(eff: EffectsFile, reported: str) -> dict[str, float]:
    """P(true state | reported state, available), from the stationary chain."""
    st = eff.states
    prior = {"aroused": st.aroused_share, "calm": 1.0 - st.aroused_share}
    joint = {
        s: prior[s]
        * eff.availability.for_state(s)
        * (st.accuracy if s == reported else 1 - st.accuracy)
        for s in STATES
    }
    total = sum(joint.values())
    return {s: v / total for s, v in joint.items()}


def _itt(eff: EffectsFile, outcome: str, arm: str, reported: str) -> float:
    out = eff.outcomes[outcome]
    by_state = out.effects.get(arm, {s: 0.0 for s in STATES})
    return eff.receipt * sum(w * by_state[s] for s, w in _state_weights(eff, reported).items())


def _contrast_effect(eff, outcome, treated, control, reported) -> float:
    value = _itt(eff, outcome, treated, reported) - _itt(eff, outcome, control, reported)
    return value / eff.receipt if eff.analysis_for(outcome).per_protocol else value


def clipped_normal_mean(mu: float, sd: float) -> float:
    """``E[min(max(mu + sd Z, 0), 1)]``, Z standard normal: the mean probability of a
    binary outcome whose participants' probabilities scatter around ``mu`` (clipped to [0, 1]).

    ``E[clip(X)] = E[X+] - E[(X - 1)+]`` with ``E[(X - c)+] = (mu - c) Phi((mu - c)/sd) +
    sd phi((mu - c)/sd)`` (the normal partial expectation).
    """
    from scipy.stats import norm

    if sd <= 0:
        return min(max(mu, 0.0), 1.0)

    def above(c: float) -> float:
        z = (mu - c) / sd
        return (mu - c) * norm.cdf(z) + sd * norm.pdf(z)

    return above(0.0) - above(1.0)


def _binary_mean(eff: EffectsFile, outcome: str, arm: str, reported: str) -> float:
    """P(outcome | arm drawn, reported state, available): over the true states, the
    participants' random intercepts and (intent-to-treat) whether the arm was received."""
    out = eff.outcomes[outcome]
    d = out.effects.get(arm, {s: 0.0 for s in STATES})
    sd = out.between_sd()
    r = 1.0 if eff.analysis_for(outcome).per_protocol else eff.receipt
    return sum(
        w
        * (
            r * clipped_normal_mean(out.baseline[s] + d[s], sd)
            + (1 - r) * clipped_normal_mean(out.baseline[s], sd)
        )
        for s, w in _state_weights(eff, reported).items()
    )


def build_terms(protocol: Protocol, eff: EffectsFile) -> list[Term]:
    """The tested terms, in the order of :func:`analyze`, with the effect each one estimates.

    The truth is the effect of the treated arm against the control arm among
    available decision points (intent-to-treat: times the receipt rate), by the
    state the classifier reported (a mixture of the true states when the
    classifier errs). A marginal analysis estimates the average over available
    decision points drawn into the contrast. For a binary outcome it is the log
    relative risk EMEE estimates (Qian et al. 2021): ``log E[Y | treated, S] -
    log E[Y | control, S]``, each mean taken over the true states, participants
    and receipt; marginally the log of the ratio of the means over the available
    decision points drawn into the contrast (not the mean of the log ratios).
    """
    terms = []
    for name, out in eff.outcomes.items():
        binary = out.scale == "binary"
        scale = "log relative risk" if binary else "effect"
        moderator = eff.analysis_for(name).moderator
        for treated, control in contrasts_of(eff, protocol, name):
            if binary:
                mean = {
                    (arm, r): _binary_mean(eff, name, arm, r)
                    for arm in (treated, control)
                    for r in STATES
                }
                aroused = math.log(mean[treated, "aroused"] / mean[control, "aroused"])
                calm = math.log(mean[treated, "calm"] / mean[control, "calm"])
            else:
                aroused = _contrast_effect(eff, name, treated, control, "aroused")
                calm = _contrast_effect(eff, name, treated, control, "calm")
            if moderator:
                terms.append(
                    Term(name, treated, control, "(Intercept)", f"{scale} when aroused", aroused)
                )
                terms.append(
                    Term(
                        name,
                        treated,
                        control,
                        f"{moderator}calm",
                        f"moderation: {scale} when calm minus {scale} when aroused",
                        calm - aroused,
                    )
                )
                continue
            weight = _marginal_weights(protocol, eff, treated, control)
            if binary:
                truth = math.log(
                    sum(weight[r] * mean[treated, r] for r in STATES)
                    / sum(weight[r] * mean[control, r] for r in STATES)
                )
            else:
                truth = weight["aroused"] * aroused + weight["calm"] * calm
            terms.append(Term(name, treated, control, "(Intercept)", f"marginal {scale}", truth))
    return terms


def _marginal_weights(protocol, eff, treated, control) -> dict[str, float]:
    """Share of each reported state among available decision points drawn into the contrast."""
    st = eff.states
    weights = {}
    for rep in STATES:
        p_rep = sum(
            (st.aroused_share if s == "aroused" else 1 - st.aroused_share)
            * eff.availability.for_state(s)
            * (st.accuracy if s == rep else 1 - st.accuracy)
            for s in STATES
        )
        context = protocol.context_variable
        probs = protocol.probabilities({context: rep} if context else {})
        weights[rep] = p_rep * (probs[treated] + probs[control])
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}
