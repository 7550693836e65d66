"""The effects file of a power simulation: what the study expects to find, and the analysis.

A closed-form sample size (Liao et al. 2016) needs one standardized marginal
effect; the question a lab study asks is usually about moderation, with
probabilities that depend on the moderator. So the simulation needs a model of
the data: how the affective state evolves over a session (a two-state Markov
chain with a stationary share aroused and a lag-1 persistence), how often a
participant is available (overall or by state), how often a framing is
received, and for each proximal outcome its baseline, spread, within-person
correlation and the effect of each arm against the baseline arm by state
(for a binary outcome as relative risks, the scale EMEE estimates, or as risk
differences).
``[analysis]`` says how each simulated study is analyzed, as the real one
will be. Read with pydantic, so every problem is reported as
``FILE: path: what (fix)`` with the protocol's own wording.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol import AFFECT_CONTEXT, Protocol, load_protocol
from labmrt.protocol.errors import issues_from_validation_error, loc_text
from labmrt.protocol.files import read_toml

#: The states the simulation models; the classifier reports one of them at each decision point.
STATES = ("calm", "aroused")
CONTROL_NAMES = ("task_index", "difficulty")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _by_state(value: Any) -> Any:
    """``0.3`` means the same in both states; ``{calm = 0.3, aroused = 0.6}`` per state."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {s: float(value) for s in STATES}
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


ByState = dict[Literal["calm", "aroused"], float]


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


class AnalysisPlan(_Model):
    """How each simulated study is analyzed (``labmrt analyze`` options of the real analysis)."""

    contrasts: list[str] | None = None
    moderator: Literal["affect_state", ""] = AFFECT_CONTEXT
    controls: list[Literal["task_index", "difficulty"]] = Field(default_factory=list)
    numerator_prob: float | None = Field(None, gt=0.0, lt=1.0)
    small_sample: Literal["auto", "always", "never"] | None = None  # None: the estimator's default
    per_protocol: bool = False


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
    analysis: AnalysisPlan | None = None

    _fill = field_validator("baseline", mode="before")(_by_state)

    @field_validator("effects", "relative_risk", "log_relative_risk", mode="before")
    @classmethod
    def _effects_by_state(cls, v):
        if isinstance(v, Mapping):
            return {k: _by_state(x) for k, x in v.items()}
        return v

    @field_validator("baseline")
    @classmethod
    def _both_states(cls, v):
        for s in STATES:
            if s not in v:
                raise ValueError(
                    f"has no value for {s} || give a number or {{calm = , aroused = }}"
                )
            _finite(v[s])
        return v

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


class EffectsFile(_Model):
    # the protocol these effects are written for, relative to the effects file: lets
    # `labmrt validate` check the file on its own and `power --simulate` refuse another
    protocol: str | None = None
    states: StateProcess = Field(default_factory=StateProcess)
    availability: Availability = Field(default_factory=Availability)
    receipt: float = Field(1.0, gt=0.0, le=1.0)
    analysis: AnalysisPlan = Field(default_factory=AnalysisPlan)
    outcomes: dict[str, OutcomeModel] = Field(min_length=1)

    def analysis_for(self, outcome: str) -> AnalysisPlan:
        """``[analysis]`` with the options ``[outcomes.NAME.analysis]`` gives for ``outcome``."""
        own = self.outcomes[outcome].analysis
        if own is None:
            return self.analysis
        return self.analysis.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})


def _located(where: str, loc: tuple, what: str, fix: str = "") -> Problem:
    return Problem(f"{where}: {loc_text(loc)}" if loc else where, what, fix)


def parse_contrast(text: str, protocol: Protocol) -> tuple[str, str]:
    """``loss-vs-baseline`` or ``gain-vs-loss`` -> (treated arm, control arm)."""
    left, sep, right = str(text).partition("-vs-")
    if not sep:
        raise ValueError(f"{text!r} is not 'ARM-vs-ARM' || write e.g. 'loss-vs-baseline'")
    right = protocol.baseline_arm.id if right == "baseline" else right
    for side in (left, right):
        if side not in protocol.arm_ids:
            raise ValueError(
                f"{side!r} is not an arm of the protocol || use one of {protocol.arm_ids} "
                "or 'baseline'"
            )
    if left == right:
        raise ValueError(f"{text!r} compares an arm with itself || name two different arms")
    return left, right


def check_against_protocol(model: EffectsFile, protocol: Protocol, where: str) -> list[Problem]:
    """Study rules across the two files: arms, contexts, outcomes, scales."""
    problems: list[Problem] = []
    context = protocol.context_variable
    if context is not None and context != AFFECT_CONTEXT:
        problems.append(
            Problem(
                where,
                f"the protocol randomizes by {context!r}; the simulation models {AFFECT_CONTEXT!r}",
                f"use a protocol with constant probabilities or context = {AFFECT_CONTEXT!r}",
            )
        )
    if protocol.randomization.table is not None:
        missing = [s for s in STATES if s not in protocol.randomization.table]
        if missing:
            problems.append(
                Problem(
                    where,
                    f"the protocol's probability table has no row for {missing}; these states "
                    f"would use the fallback row {protocol.randomization.fallback!r}",
                    "fine if intended; add the rows otherwise",
                )
            )
    arms = protocol.arm_ids
    baseline = protocol.baseline_arm.id
    for name, out in model.outcomes.items():
        loc = ("outcomes", name)
        if out.scale == "continuous" and out.sd is None:
            problems.append(
                _located(
                    where, (*loc, "sd"), "is required for a continuous outcome", "add sd = ..."
                )
            )
        if out.icc is not None and out.participant_sd is not None:
            problems.append(
                _located(where, (*loc, "icc"), "is given together with participant_sd",
                         "give one of icc and participant_sd")
            )  # fmt: skip
        if out.scale == "binary" and out.sd is not None:
            problems.append(
                _located(where, (*loc, "sd"), "has no meaning for a binary outcome", "remove it")
            )
        given = [k for k in ("effects", "relative_risk", "log_relative_risk") if getattr(out, k)]
        if len(given) > 1:
            problems.append(
                _located(where, (*loc, given[1]), f"is given together with {given[0]}",
                         "state an outcome's effects one way")
            )  # fmt: skip
        key, stated = out.stated()
        if key != "effects" and out.scale != "binary":
            problems.append(
                _located(where, (*loc, key), "is for a binary outcome (EMEE, log relative risk)",
                         "state a continuous outcome's effects as effects.ARM, or scale = 'binary'")
            )  # fmt: skip
            continue
        for arm, by_state in stated.items():
            if arm not in arms:
                problems.append(
                    _located(where, (*loc, key, arm), "is not an arm of the protocol",
                             f"use one of {[a for a in arms if a != baseline]}")
                )  # fmt: skip
                continue
            if arm == baseline:
                problems.append(
                    _located(where, (*loc, key, arm),
                             "is the baseline arm: effects are stated against it",
                             "remove it (its effect is 0 by definition)")
                )  # fmt: skip
            for s in STATES:
                if s not in by_state:
                    problems.append(
                        _located(where, (*loc, key, arm), f"has no value for {s}",
                                 "give a number or {calm = ..., aroused = ...}")
                    )  # fmt: skip
                elif key == "relative_risk" and by_state[s] <= 0:
                    problems.append(
                        _located(where, (*loc, key, arm, s), f"is {by_state[s]:g}",
                                 "a relative risk is greater than 0 (1: no effect)")
                    )  # fmt: skip
                elif out.scale == "binary":
                    total = out.treated_probability(key, by_state[s], s)
                    if not 0.0 <= total <= 1.0:
                        problems.append(
                            _located(where, (*loc, key, arm, s),
                                     f"gives the probability {total:g} when {s} and treated",
                                     "keep the baseline's probability times the relative risk "
                                     "(plus the risk difference, for effects) within [0, 1]")
                        )  # fmt: skip
        if out.scale == "binary":
            for s in STATES:
                if not 0.0 <= out.baseline[s] <= 1.0:
                    problems.append(
                        _located(where, (*loc, "baseline", s),
                                 f"is {out.baseline[s]:g}, not a probability", "use 0 to 1")
                    )  # fmt: skip
    places = [(("analysis",), model.analysis)] + [
        (("outcomes", name, "analysis"), out.analysis)
        for name, out in model.outcomes.items()
        if out.analysis is not None
    ]
    for loc, spec in places:
        for i, text in enumerate(spec.contrasts or []):
            try:
                parse_contrast(text, protocol)
            except ValueError as err:
                what, _, fix = str(err).partition(" || ")
                problems.append(_located(where, (*loc, "contrasts", i), what, fix))
        if spec.per_protocol and model.receipt >= 1.0:
            problems.append(
                _located(where, (*loc, "per_protocol"),
                         "is the same analysis as intent-to-treat when every framing is received",
                         "give receipt < 1 or drop per_protocol")
            )  # fmt: skip
    return problems


def _schema_problems(err: ValidationError, where: str) -> list[Problem]:
    out = []
    for issue in issues_from_validation_error(err, EffectsFile):
        what, _, fix = issue.what.partition(" || ")
        out.append(_located(where, issue.loc, what, issue.fix or fix))
    return out


def checked_effects(doc: Mapping[str, Any], protocol: Protocol, where: str) -> EffectsFile:
    """Validate an effects document against ``protocol``, keeping the effects as stated
    (a form shows relative risks as relative risks); every problem is reported at once."""
    try:
        model = EffectsFile.model_validate(dict(doc))
    except ValidationError as err:
        raise LabmrtError(_schema_problems(err, where)) from None
    problems = check_against_protocol(model, protocol, where)
    if problems:
        raise LabmrtError(problems)
    return model


def effects_from_dict(doc: Mapping[str, Any], protocol: Protocol, where: str) -> EffectsFile:
    """Validate an effects document against ``protocol``, as the simulation draws it."""
    return as_differences(checked_effects(doc, protocol, where))


def as_differences(model: EffectsFile) -> EffectsFile:
    """Binary effects stated as relative risks, written as the risk differences they imply.

    The simulation draws a binary outcome as ``baseline + b_i + effect`` (on
    the probability scale), so one form serves every way of stating it; the
    truth of each tested term is taken back to the log relative risk EMEE
    estimates (:func:`labmrt.powersim.trials.build_terms`).
    """
    outcomes = {}
    for name, out in model.outcomes.items():
        key, stated = out.stated()
        if key != "effects":
            # Rounded at 1e-12: 0.4 x (1.125 - 1) is 0.05, as one would write it.
            diffs = {
                arm: {
                    s: round(out.treated_probability(key, v[s], s) - out.baseline[s], 12)
                    for s in STATES
                }
                for arm, v in stated.items()
            }
            out = out.model_copy(
                update={"effects": diffs, "relative_risk": {}, "log_relative_risk": {}}
            )
        outcomes[name] = out
    return model.model_copy(update={"outcomes": outcomes})


def load_effects(path: str | Path, protocol: Protocol, *, stated: bool = False) -> EffectsFile:
    """Read and validate an effects file (TOML) for ``protocol``.

    ``stated``: binary effects as the file states them (relative risks stay
    relative risks), else as the risk differences the simulation draws.
    """
    path = Path(path)
    read = checked_effects if stated else effects_from_dict
    model = read(read_toml(path, str(path)), protocol, str(path))
    named = named_protocol(path, model)
    if named is not None and named.content_hash != protocol.content_hash:
        raise LabmrtError(
            _located(
                str(path),
                ("protocol",),
                f"names {model.protocol} (content hash {named.content_hash[:12]}), "
                f"not the protocol simulated (content hash {protocol.content_hash[:12]})",
                "simulate the protocol the effects were written for, or change protocol =",
            )
        )
    return model


def named_protocol(path: str | Path, model: EffectsFile) -> Protocol | None:
    """The protocol an effects file names (``protocol = ...``, relative to it), loaded."""
    if model.protocol is None:
        return None
    target = Path(path).parent / model.protocol
    if not target.is_file():
        raise LabmrtError(
            _located(
                str(path),
                ("protocol",),
                f"'{model.protocol}' not found next to the effects file",
                "give the protocol's path relative to the effects file",
            )
        )
    return load_protocol(target)


def validate_effects_file(path: str | Path) -> tuple[EffectsFile, Protocol | None]:
    """``labmrt validate``: the file checked on its own and against the protocol it names."""
    path = Path(path)
    doc = read_toml(path, str(path))
    try:
        model = EffectsFile.model_validate(dict(doc))
    except ValidationError as err:
        raise LabmrtError(_schema_problems(err, str(path))) from None
    protocol = named_protocol(path, model)
    if protocol is not None:
        model = effects_from_dict(doc, protocol, str(path))
    return model, protocol


def contrasts_of(
    model: EffectsFile, protocol: Protocol, outcome: str | None = None
) -> list[tuple[str, str]]:
    """(treated, control) arm pairs analyzed (for ``outcome``): the file's, else every arm
    vs the baseline."""
    spec = model.analysis if outcome is None else model.analysis_for(outcome)
    if spec.contrasts:
        return [parse_contrast(c, protocol) for c in spec.contrasts]
    base = protocol.baseline_arm.id
    return [(a, base) for a in protocol.arm_ids if a != base]


def with_zero_effects(model: EffectsFile) -> EffectsFile:
    """The same study with every arm's effect 0 (the null: type I error)."""
    outcomes = {
        name: out.model_copy(update={"effects": {a: {s: 0.0 for s in STATES} for a in out.effects}})
        for name, out in model.outcomes.items()
    }
    return model.model_copy(update={"outcomes": outcomes})
