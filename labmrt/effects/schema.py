"""The effects file: what a study expects to find, for the simulations that assume it.

One schema serves ``labmrt simulate`` (simulated participants run through the
real session engine, :mod:`labmrt.simulate`) and ``labmrt power --simulate``
(Monte Carlo power, :mod:`labmrt.powersim`). Each reads the parts it models:

* both: ``protocol``, ``receipt`` and ``[outcomes.NAME]`` (baseline, spread and
  the effect of each arm against the baseline arm by state: differences on the
  outcome's analyzed scale, or for a binary outcome relative risks, the scale
  EMEE estimates);
* the power simulation: ``[states]`` (a two-state Markov chain over the
  decision points), ``[availability]``, ``[analysis]`` (the options of each
  simulated study's analysis, :class:`~labmrt.analysis.options.AnalysisOptions`)
  and an outcome's ``icc`` / ``participant_sd`` / ``analysis``;
* the session simulation: the participants' behaviour at the top level
  (``participant_sd``: one intercept per participant shared by its duration
  outcomes, breaks, signal dropouts, reading and working times,
  ``mean_state_segment_s`` of the scripted state) and ``[correct]``, how they
  answer a scored task: the distal outcome (the share of tasks answered
  correctly), with a direct effect of the framing and one through a proximal
  outcome (:class:`AnswerModel`, :mod:`labmrt.effects.answers`).

Renamed keys are still read, with a deprecation warning that says what to
write instead (:data:`RENAMED`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from labmrt.analysis.options import AnalysisOptions, SmallSample

#: The states the simulations model; the classifier reports one of them at each decision point.
STATES = ("calm", "aroused")
#: The controls a simulated study can be analyzed with (the protocol gives their values).
CONTROL_NAMES = ("task_index", "difficulty")
#: The analysis options a power simulation sets itself for each simulated study.
SET_BY_SIMULATION = (
    "method", "id", "decision_point", "outcome", "treatment", "prob", "contrast", "baseline",
    "arm", "availability", "received", "treatment_lags", "outcome_delay", "conf_level",
    "lincomb", "mediator", "learner", "effect_form", "weights",
)  # fmt: skip

ByState = dict[Literal["calm", "aroused"], float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _by_state(value: Any) -> Any:
    """``0.3`` means the same in both states; ``{calm = 0.3, aroused = 0.6}`` per state."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {s: float(value) for s in STATES}
    return value


def _arms_by_state(value: Any) -> Any:
    """Each arm's value as :func:`_by_state` reads it."""
    if isinstance(value, Mapping):
        return {k: _by_state(x) for k, x in value.items()}
    return value


def _both_states(value: dict) -> dict:
    """A by-state value gives both states (finite numbers)."""
    for s in STATES:
        if s not in value:
            raise ValueError(f"has no value for {s} || give a number or {{calm = , aroused = }}")
        if not math.isfinite(value[s]):
            raise ValueError("must be a finite number")
    return value


class StateProcess(_Model):
    """The true affective state over the decision points of a session (a Markov chain)."""

    aroused_share: float = Field(0.3, gt=0.0, lt=1.0)
    persistence: float = Field(0.5, ge=0.0, lt=1.0)
    accuracy: float = Field(1.0, gt=0.5, le=1.0)


class Availability(_Model):
    share: float = Field(0.9, gt=0.0, le=1.0)
    by_state: ByState | None = None

    @field_validator("by_state")
    @classmethod
    def _shares(cls, v):
        if v is None:
            return v
        for s in STATES:
            if s not in v:
                raise ValueError(f"has no share for {s} || give calm and aroused")
            if not 0.0 < v[s] <= 1.0:
                raise ValueError(f"{s} is {v[s]:g}, must lie in (0, 1] || change it")
        return v

    def for_state(self, state: str) -> float:
        return self.share if self.by_state is None else float(self.by_state[state])


class TrialAnalysis(AnalysisOptions):
    """The analysis of each simulated study: ``labmrt analyze``'s options, of which a
    simulation chooses the contrasts, the moderator (``affect_state`` or none), the
    protocol's controls, the numerator, the small-sample correction and per-protocol
    rows; the options in :data:`SET_BY_SIMULATION` it sets itself. ``contrasts``: the
    analyses run on each study (default: every arm vs the baseline arm)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contrasts: list[str] | None = None
    moderators: list[Literal["affect_state"]] = Field(
        default_factory=lambda: ["affect_state"], max_length=1
    )
    controls: list[Literal["task_index", "difficulty"]] = Field(default_factory=list)
    numerator_prob: float | None = Field(None, gt=0.0, lt=1.0)
    small_sample: SmallSample | None = None

    @property
    def moderator(self) -> str:
        """The one moderator of a simulated study's analysis, or ``""`` (marginal)."""
        return self.moderators[0] if self.moderators else ""


class OutcomeModel(_Model):
    """One proximal outcome on its analyzed scale (log1p seconds, a 0/1 use, ...)."""

    scale: Literal["continuous", "binary"] = "continuous"
    baseline: ByState
    sd: float | None = Field(None, gt=0.0)
    icc: float | None = Field(None, ge=0.0, lt=1.0)
    participant_sd: float | None = Field(None, ge=0.0)
    effects: dict[str, ByState] = Field(default_factory=dict)
    # Binary outcomes only, on the scale EMEE estimates (one of these or ``effects``):
    relative_risk: dict[str, ByState] = Field(default_factory=dict)
    log_relative_risk: dict[str, ByState] = Field(default_factory=dict)
    # This outcome's own analysis options, over [analysis] (e.g. a hypothesis without moderator).
    analysis: TrialAnalysis | None = None

    _fill = field_validator("baseline", mode="before")(_by_state)
    _fill_arms = field_validator("effects", "relative_risk", "log_relative_risk", mode="before")(
        _arms_by_state
    )
    _states = field_validator("baseline")(_both_states)

    def stated(self) -> tuple[str, dict[str, ByState]]:
        """The key the effects are given under and their values (``effects`` when none is)."""
        for key in ("relative_risk", "log_relative_risk"):
            if getattr(self, key):
                return key, getattr(self, key)
        return "effects", self.effects

    def treated_probability(self, key: str, value: float, state: str) -> float:
        """P(outcome) of a participant of average propensity who receives the arm."""
        base = self.baseline[state]
        if key == "relative_risk":
            return base * value
        if key == "log_relative_risk":
            return base * math.exp(value)
        return base + value

    def between_sd(self) -> float:
        """Participant random-intercept SD (from ``icc`` when given: icc = b^2 / (b^2 + sd^2))."""
        if self.participant_sd is not None:
            return float(self.participant_sd)
        if self.icc is not None and self.sd is not None:
            return float(self.sd) * math.sqrt(self.icc / (1.0 - self.icc))
        return 0.0


class AnswerModel(_Model):
    """How a simulated participant answers a scored task (``labmrt simulate``).

    ``P(correct) = baseline[s] + R * effects[arm][s] + slope * (M - mediator baseline[s])``
    with ``s`` the true state, ``R`` = 1 when the framing was received and ``M``
    the task's value of the proximal outcome ``mediator`` on its analyzed
    scale: the framing changes the answer directly (``effects``, risk
    differences against the baseline arm) and through the mediator
    (``slope`` per unit of it). The distal outcome, the share of the scored
    tasks answered correctly, then has a known natural direct and indirect
    excursion effect (:mod:`labmrt.effects.answers`).
    """

    baseline: ByState = Field(default_factory=lambda: {s: 0.7 for s in STATES})
    effects: dict[str, ByState] = Field(default_factory=dict)
    mediator: str | None = None
    slope: float = 0.0

    _fill = field_validator("baseline", mode="before")(_by_state)
    _fill_arms = field_validator("effects", mode="before")(_arms_by_state)

    @field_validator("baseline")
    @classmethod
    def _probabilities(cls, v):
        for s in STATES:
            if not 0.0 <= _both_states(v)[s] <= 1.0:
                raise ValueError(f"{s} is {v[s]:g}, not a probability || use 0 to 1")
        return v


Interval = tuple[float, float]


class EffectsFile(_Model):
    """What a study expects to find, for ``labmrt power --simulate`` and ``labmrt simulate``.

    Both read ``protocol``, ``receipt`` and ``[outcomes.NAME]`` (``scale``,
    ``baseline``, ``sd`` and the effects). The power simulation also reads
    ``[states]``, ``[availability]``, ``[analysis]`` and each outcome's ``icc``
    / ``participant_sd`` / ``analysis``; ``labmrt simulate`` the simulated
    participants' behaviour, the top-level keys from ``participant_sd`` to
    ``mean_state_segment_s``. A key the running simulation does not model is
    checked all the same and left alone, so one file serves both.
    """

    # the protocol these effects are written for, relative to the effects file: lets
    # `labmrt validate` check the file on its own and the simulations refuse another
    protocol: str | None = None
    receipt: float = Field(1.0, gt=0.0, le=1.0)
    states: StateProcess = Field(default_factory=StateProcess)
    availability: Availability = Field(default_factory=Availability)
    analysis: TrialAnalysis = Field(default_factory=TrialAnalysis)
    outcomes: dict[str, OutcomeModel] = Field(default_factory=dict)
    # The simulated participants of `labmrt simulate` (see the module docstring).
    participant_sd: float = Field(0.2, ge=0.0)
    correct: AnswerModel = Field(default_factory=AnswerModel)
    break_prob: float = Field(0.03, ge=0.0, le=1.0)
    break_s: Interval = (30.0, 120.0)
    dropouts_per_hour: float = Field(3.0, ge=0.0)
    dropout_s: Interval = (20.0, 60.0)
    low_quality_per_hour: float = Field(1.5, ge=0.0)
    read_s: Interval = (2.0, 9.0)
    work_s: Interval = (5.0, 25.0)
    mean_state_segment_s: float = Field(150.0, ge=1.0)

    @field_validator("break_s", "dropout_s", "read_s", "work_s")
    @classmethod
    def _interval(cls, v: Interval) -> Interval:
        if v[0] < 0 or v[1] < v[0]:
            raise ValueError(f"is {list(v)} || write [low, high] with 0 <= low <= high")
        return v

    def analysis_for(self, outcome: str) -> TrialAnalysis:
        """``[analysis]`` with the options ``[outcomes.NAME.analysis]`` gives for ``outcome``."""
        own = self.outcomes[outcome].analysis
        if own is None:
            return self.analysis
        return self.analysis.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})


#: Keys that were renamed: (table path, old key) -> (new key, how the old value is written
#: anew, why).
RENAMED: dict[tuple[tuple[str, ...], str], tuple[str, Any, str]] = {
    ((), "receipt_prob"): ("receipt", lambda v: v, "one key for every simulation"),
    ((), "correct_prob"): (
        "correct",
        lambda v: {"baseline": v},
        "the answers' model, with the framing's direct and mediated effects",
    ),
    (("analysis",), "moderator"): (
        "moderators",
        lambda v: [v] if v else [],
        "one key for every simulation",
    ),
}
