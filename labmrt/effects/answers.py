"""How simulated participants answer, and the distal effects that follow (``[correct]``).

The answers model (:class:`~labmrt.effects.schema.AnswerModel`) gives the
chance that a simulated participant answers a scored task correctly,

    P(correct) = baseline[s] + R * effects[a][s] + slope * (M - m[s]),

``s`` the true state, ``a`` the arm shown (the baseline arm when the point was
not randomized), ``R`` = 1 when the framing was received, ``M`` the task's
recorded value of the proximal outcome ``mediator`` and ``m[s]`` that
outcome's baseline level. The share of a participant's ``K`` scored tasks
answered correctly (the export's ``share_correct``) is then a distal outcome
whose excursion effects at one decision point in state ``s``, arm ``a``
against the baseline arm, are known exactly:

* direct (not through the mediator): ``receipt * effects[a][s] / K``;
* indirect (through it): ``slope * (E[M | a, s] - E[M | baseline arm, s]) / K``,

with ``E[M | a, s] = receipt g(m[s] + e[a][s]) + (1 - receipt) g(m[s])`` for
the mediator's effect ``e``, ``g`` the mean of the recorded value: a
duration's ``E max(0, N(level, sd^2 + participant_sd^2))`` (a negative
duration is recorded as 0, and ``log1p(expm1(y)) = y``), a use's
probability, a count's transformed Poisson mean. For a contrast of arm sets
the effects are the probability-weighted means over each side
(:func:`labmrt.simulate.distal_truth`). They hold while no task times out (a
timed-out task is scored wrong whatever the model says).

These are the natural effects a mediation analysis (``mcee``) estimates only
when nothing unmeasured drives both the mediator and the answers
(:func:`unidentified_because`): a participant's random intercept of a
duration mediator (``participant_sd > 0``) raises its help use at every task
and so every answer, and with ``receipt < 1`` reading the framing gates both
its direct effect and its effect on the mediator (a confounder the treatment
itself sets off; VanderWeele 2015, *Explanation in Causal Inference*, ch. 5).
The distal (total) effect, ``dcee``'s, is unaffected by either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

from labmrt.effects.schema import STATES, AnswerModel, EffectsFile
from labmrt.errors import Problem
from labmrt.protocol import Protocol
from labmrt.protocol.errors import loc_text

#: The mediator's range checked for a probability: its recorded mean +- this many SDs.
RANGE_SDS = 4.0


def recorded_mean(
    measure: str, transform: str, level: float, sd: float, participant_sd: float
) -> float:
    """The mean of what the engine records for a simulated outcome at ``level``
    (its analyzed scale; ``sd`` and ``participant_sd`` are a duration's spreads)."""
    if measure == "duration":
        s = math.hypot(sd, participant_sd)
        if s == 0:
            return max(level, 0.0)
        z = level / s
        return float(level * stats.norm.cdf(z) + s * stats.norm.pdf(z))
    if measure == "any":
        return min(max(level, 0.0), 1.0)
    lam = max(level, 0.0)
    if transform != "log1p":
        return lam
    k = np.arange(0, int(lam + 12.0 * math.sqrt(lam) + 30))
    return float(np.sum(stats.poisson.pmf(k, lam) * np.log1p(k)))


def _recorded_range(
    measure: str, transform: str, levels: list[float], sd: float, participant_sd: float
) -> tuple[float, float]:
    """Where the recorded value of an outcome lies but for a chance below about 6e-5."""
    if measure == "any":
        return 0.0, 1.0
    if measure == "duration":
        s = math.hypot(sd, participant_sd)
        return max(0.0, min(levels) - RANGE_SDS * s), max(0.0, max(levels) + RANGE_SDS * s)
    top = max(0.0, max(levels))
    high = top + RANGE_SDS * math.sqrt(top) + 1.0
    return 0.0, math.log1p(high) if transform == "log1p" else high


def probability(
    answers: AnswerModel,
    arm: str,
    state: str,
    received: bool,
    mediator_value: float | None,
    mediator_baseline: Mapping[str, float] | None,
) -> float:
    """P(correct) of one scored task, kept within [0, 1] (the checks make that a no-op)."""
    p = answers.baseline[state]
    if received:
        p += answers.effects.get(arm, {}).get(state, 0.0)
    if answers.slope and mediator_value is not None and mediator_baseline is not None:
        p += answers.slope * (mediator_value - mediator_baseline[state])
    return min(max(p, 0.0), 1.0)


def arm_effects(
    answers: AnswerModel,
    measure: str,
    transform: str,
    mediator_baseline: Mapping[str, float],
    mediator_effects: Mapping[str, Mapping[str, float]],
    sd: float,
    participant_sd: float,
    receipt: float,
    arms: list[str],
) -> dict[str, dict[str, dict[str, float]]]:
    """Per arm (against the baseline arm) and state: the change in P(correct) of the task,
    directly (``direct``) and through the mediator (``indirect``), both intent-to-treat.

    Divided by a participant's number of scored tasks, they are the distal excursion
    effects of one decision point (module docstring). ``mediator_effects`` are
    differences on the mediator's analyzed scale, if received.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for arm in arms:
        out[arm] = {}
        for s in STATES:
            base = mediator_baseline[s]
            eff = mediator_effects.get(arm, {}).get(s, 0.0)
            e0 = recorded_mean(measure, transform, base, sd, participant_sd)
            e1 = receipt * recorded_mean(measure, transform, base + eff, sd, participant_sd)
            e1 += (1.0 - receipt) * e0
            direct = receipt * answers.effects.get(arm, {}).get(s, 0.0)
            indirect = answers.slope * (e1 - e0)
            out[arm][s] = {
                "direct": direct,
                "indirect": indirect,
                "total": direct + indirect,
                "mediator_shift": e1 - e0,
            }
    return out


def unidentified_because(
    answers: AnswerModel,
    measure: str | None,
    mediator_effects: Mapping[str, Mapping[str, float]],
    participant_sd: float,
    receipt: float,
) -> list[str]:
    """Why the natural direct / indirect effects are not what mcee estimates (empty: they are)."""
    reasons = []
    if answers.mediator is None or measure is None:
        return reasons
    if measure == "duration" and participant_sd > 0 and answers.slope:
        reasons.append(
            f"participant_sd = {participant_sd:g}: each participant's intercept moves the "
            "mediator at every task and, through the slope, every answer (an unmeasured "
            "confounder of mediator and outcome)"
        )
    direct = any(v for by_state in answers.effects.values() for v in by_state.values())
    moved = any(v for by_state in mediator_effects.values() for v in by_state.values())
    if receipt < 1 and direct and moved:
        reasons.append(
            f"receipt = {receipt:g}: whether the framing was read gates both its direct effect "
            "and its effect on the mediator (a confounder the treatment sets off)"
        )
    return reasons


def answer_problems(model: EffectsFile, protocol: Protocol, where: str) -> list[Problem]:
    """``[correct]`` against the protocol: arms, the mediator, probabilities in [0, 1]."""
    answers = model.correct
    problems: list[Problem] = []
    baseline_arm = protocol.baseline_arm.id
    arms = [a for a in protocol.arm_ids if a != baseline_arm]
    outcomes = {o.name: o for o in protocol.outcomes}

    def problem(at: tuple, what: str, fix: str) -> None:
        problems.append(Problem(f"{where}: {loc_text(('correct', *at))}", what, fix))

    for arm, by_state in answers.effects.items():
        if arm not in arms:
            why = (
                "is the baseline arm: effects are stated against it"
                if arm == baseline_arm
                else "is not an arm of the protocol"
            )
            problem(("effects", arm), why, f"use one of {arms}")
        missing = [s for s in STATES if s not in by_state]
        if missing:
            problem(("effects", arm), f"has no value for {missing[0]}",
                    "give a number or {calm = ..., aroused = ...}")  # fmt: skip
    if answers.mediator is None:
        if answers.slope:
            problem(("slope",), "is given without a mediator",
                    "name the proximal outcome it acts through: mediator = ...")  # fmt: skip
    elif answers.mediator not in outcomes:
        problem(("mediator",), f"{answers.mediator!r} is not an outcome of the protocol",
                f"use one of: {', '.join(outcomes) or 'none'}")  # fmt: skip
    if problems:
        return problems
    lo = {s: 0.0 for s in STATES}
    hi = dict(lo)
    if answers.mediator is not None and answers.slope:
        spec = outcomes[answers.mediator]
        out = model.outcomes.get(answers.mediator)
        if out is None:  # the simulation reports the missing outcome itself
            return problems
        key, stated = out.stated()
        for s in STATES:
            levels = [out.baseline[s]] + [
                out.treated_probability(key, v.get(s, 0.0), s) for v in stated.values()
            ]
            sd = 0.5 if out.sd is None else out.sd
            low, high = _recorded_range(
                spec.measure, spec.transform, levels, sd, model.participant_sd
            )
            lo[s] = answers.slope * (low - out.baseline[s])
            hi[s] = answers.slope * (high - out.baseline[s])
    for s in STATES:
        for arm in [baseline_arm, *arms]:
            direct = answers.effects.get(arm, {}).get(s, 0.0)
            for shift in (0.0, direct):
                ends = sorted(
                    (answers.baseline[s] + shift + lo[s], answers.baseline[s] + shift + hi[s])
                )
                if ends[0] < 0.0 or ends[1] > 1.0:
                    problem(
                        ("slope",) if answers.slope else ("effects", arm, s),
                        f"P(correct) reaches {ends[0] if ends[0] < 0 else ends[1]:.3g} when {s}"
                        + (f" under {arm}" if shift else "")
                        + (
                            f" (mediator {answers.mediator} within +-{RANGE_SDS:g} SD)"
                            if answers.slope
                            else ""
                        ),
                        "keep baseline + effect + slope x (mediator - its baseline) within [0, 1]",
                    )
                    return problems
    return problems
