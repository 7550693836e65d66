"""The effects file as the power simulation reads it (the schema is :mod:`labmrt.effects`).

A closed-form sample size (Liao et al. 2016) needs one standardized marginal
effect; the question a lab study asks is usually about moderation, with
probabilities that depend on the moderator. So the simulation needs a model of
the data: how the affective state evolves over a session (a two-state Markov
chain with a stationary share aroused and a lag-1 persistence), how often a
participant is available (overall or by state), how often a framing is
received, and for each proximal outcome its baseline, spread, within-person
correlation and the effect of each arm against the baseline arm by state
(for a binary outcome as relative risks, the scale EMEE estimates, or as risk
differences). ``[analysis]`` says how each simulated study is analyzed, as the
real one will be. The rules here are those of what this simulation alone
models; the schema and the rules both simulations share are in
:mod:`labmrt.effects`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labmrt.effects import (
    STATES,
    EffectsFile,
    OutcomeModel,
    TrialAnalysis,
    as_differences,
    contrast_arms,
)
from labmrt.effects import checked_effects as _checked
from labmrt.effects import load_effects as _load
from labmrt.effects.load import analysis_places, located
from labmrt.effects.schema import CONTROL_NAMES
from labmrt.errors import Problem
from labmrt.protocol import AFFECT_CONTEXT, Protocol

#: The analysis options of a simulated study (the name this module gave them first).
AnalysisPlan = TrialAnalysis

__all__ = [
    "CONTROL_NAMES",
    "STATES",
    "AnalysisPlan",
    "EffectsFile",
    "OutcomeModel",
    "as_differences",
    "check_against_protocol",
    "checked_effects",
    "contrasts_of",
    "effects_from_dict",
    "load_effects",
    "with_zero_effects",
]


def check_against_protocol(model: EffectsFile, protocol: Protocol, where: str) -> list[Problem]:
    """The power simulation's own rules: its state model, spreads and per-protocol rows."""
    problems: list[Problem] = []
    if not model.outcomes:
        problems.append(
            located(where, ("outcomes",), "has no outcome to simulate",
                    "add [outcomes.NAME] with its baseline and effects")
        )  # fmt: skip
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
    for name, out in model.outcomes.items():
        loc = ("outcomes", name)
        if out.scale == "continuous" and out.sd is None:
            problems.append(
                located(where, (*loc, "sd"), "is required for a continuous outcome", "add sd = ...")
            )
        if out.icc is not None and out.participant_sd is not None:
            problems.append(
                located(where, (*loc, "icc"), "is given together with participant_sd",
                        "give one of icc and participant_sd")
            )  # fmt: skip
    for loc, spec in analysis_places(model):
        if spec.per_protocol and model.receipt >= 1.0:
            problems.append(
                located(where, (*loc, "per_protocol"),
                        "is the same analysis as intent-to-treat when every framing is received",
                        "give receipt < 1 or drop per_protocol")
            )  # fmt: skip
    return problems


def checked_effects(doc: Mapping[str, Any], protocol: Protocol, where: str) -> EffectsFile:
    """Validate an effects document for a power simulation of ``protocol``, keeping the
    effects as stated (a form shows relative risks as relative risks)."""
    return _checked(doc, protocol, where, check_against_protocol)


def effects_from_dict(doc: Mapping[str, Any], protocol: Protocol, where: str) -> EffectsFile:
    """Validate an effects document for a power simulation, as the simulation draws it."""
    return as_differences(checked_effects(doc, protocol, where))


def load_effects(path: str | Path, protocol: Protocol, *, stated: bool = False) -> EffectsFile:
    """Read and validate an effects file for a power simulation of ``protocol``."""
    return _load(path, protocol, check=check_against_protocol, stated=stated)


def contrasts_of(
    model: EffectsFile, protocol: Protocol, outcome: str | None = None
) -> list[tuple[str, str]]:
    """(treated, control) arm pairs analyzed (for ``outcome``): the file's, else every arm
    vs the baseline."""
    spec = model.analysis if outcome is None else model.analysis_for(outcome)
    if spec.contrasts:
        return [contrast_arms(c, protocol) for c in spec.contrasts]
    base = protocol.baseline_arm.id
    return [(a, base) for a in protocol.arm_ids if a != base]


def with_zero_effects(model: EffectsFile) -> EffectsFile:
    """The same study with every arm's effect 0 (the null: type I error)."""
    outcomes = {
        name: out.model_copy(update={"effects": {a: {s: 0.0 for s in STATES} for a in out.effects}})
        for name, out in model.outcomes.items()
    }
    return model.model_copy(update={"outcomes": outcomes})
