"""Reading an effects file: one reader and one set of rules for both simulations.

The document is checked by the pydantic models of :mod:`labmrt.effects.schema`,
then against the protocol by the rules every simulation shares (arms, states,
scales, contrasts); a simulation adds the rules of what it alone models
(``check``). Every problem is reported at once as ``FILE: key: what (fix)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labmrt.analysis.contrasts import parse_contrast
from labmrt.effects.schema import (
    RENAMED,
    SET_BY_SIMULATION,
    STATES,
    EffectsFile,
    TrialAnalysis,
)
from labmrt.errors import DeprecatedKey, LabmrtError, Problem
from labmrt.protocol import Protocol, load_protocol
from labmrt.protocol.errors import issues_from_validation_error, loc_text
from labmrt.protocol.files import read_toml

#: A simulation's own rules: (model, protocol, where) -> problems.
Check = Callable[[EffectsFile, Protocol, str], list[Problem]]


def located(where: str, loc: tuple, what: str, fix: str = "") -> Problem:
    return Problem(f"{where}: {loc_text(loc)}" if loc else where, what, fix)


def renamed_keys(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The document with renamed keys written anew, each with a deprecation warning."""
    doc = dict(doc)
    tables: list[tuple[tuple, dict]] = [((), doc)]
    if isinstance(doc.get("analysis"), Mapping):
        doc["analysis"] = dict(doc["analysis"])
        tables.append((("analysis",), doc["analysis"]))
    outcomes = doc.get("outcomes")
    if isinstance(outcomes, Mapping):
        doc["outcomes"] = outcomes = dict(outcomes)
        for name, out in outcomes.items():
            if isinstance(out, Mapping) and isinstance(out.get("analysis"), Mapping):
                outcomes[name] = out = dict(out)
                out["analysis"] = dict(out["analysis"])
                tables.append((("outcomes", name, "analysis"), out["analysis"]))
    for loc, table in tables:
        for (kind, old), (new, convert, why) in RENAMED.items():
            if old not in table or kind != loc[-1:]:
                continue
            value = table.pop(old)
            if new in table:
                raise LabmrtError(
                    located(where, (*loc, old), f"is given together with {new}", f"keep {new}")
                )
            table[new] = convert(value)
            warnings.warn(
                DeprecatedKey(
                    located(
                        where,
                        (*loc, old),
                        f"is deprecated (renamed {new}: {why})",
                        f"write {new} = {_toml(table[new])}",
                    )
                ),
                stacklevel=3,
            )
    return doc


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return f'"{value}"' if isinstance(value, str) else f"{value:g}"


def parse_effects(doc: Mapping[str, Any], where: str) -> EffectsFile:
    """The schema's model of ``doc`` (renamed keys read with a warning), or every problem."""
    try:
        return EffectsFile.model_validate(renamed_keys(doc, where))
    except ValidationError as err:
        problems = []
        for issue in issues_from_validation_error(err, EffectsFile):
            what, _, fix = issue.what.partition(" || ")
            problems.append(located(where, issue.loc, what, issue.fix or fix))
        raise LabmrtError(problems) from None


def contrast_arms(text: str, protocol: Protocol) -> tuple[str, str]:
    """A simulated study's contrast (the analyzer's grammar) -> (treated arm, control arm).

    Raises ``ValueError("what || fix")``: a simulation compares one arm with one arm.
    """
    try:
        con = parse_contrast(
            text, protocol.arm_ids, protocol.baseline_arm.id, arms_from="the protocol"
        )
    except LabmrtError as err:
        p = err.problems[0]
        raise ValueError(f"{p.what} || {p.fix}") from None
    if len(con.treated) > 1 or len(con.control) > 1:
        raise ValueError(
            f"{text!r} pools arms ({con.label}) || a simulated study compares one arm with "
            "another: write e.g. 'loss-vs-baseline'"
        )
    return con.treated[0], con.control[0]


def _outcome_problems(model: EffectsFile, protocol: Protocol, where: str) -> list[Problem]:
    """Each outcome's effects: stated one way, on its scale, for arms and states that exist."""
    problems: list[Problem] = []
    arms = protocol.arm_ids
    baseline = protocol.baseline_arm.id
    for name, out in model.outcomes.items():
        loc = ("outcomes", name)

        def problem(at: tuple, what: str, fix: str, loc=loc) -> None:
            problems.append(located(where, (*loc, *at), what, fix))

        if out.scale == "binary" and out.sd is not None:
            problem(("sd",), "has no meaning for a binary outcome", "remove it")
        given = [k for k in ("effects", "relative_risk", "log_relative_risk") if getattr(out, k)]
        if len(given) > 1:
            problem((given[1],), f"is given together with {given[0]}",
                    "state an outcome's effects one way")  # fmt: skip
        key, stated = out.stated()
        if key != "effects" and out.scale != "binary":
            problem((key,), "is for a binary outcome (EMEE, log relative risk)",
                    "state a continuous outcome's effects as effects.ARM, or scale = 'binary'")  # fmt: skip
            continue
        for arm, by_state in stated.items():
            if arm not in arms:
                problem((key, arm), "is not an arm of the protocol",
                        f"use one of {[a for a in arms if a != baseline]}")  # fmt: skip
                continue
            if arm == baseline:
                problem((key, arm), "is the baseline arm: effects are stated against it",
                        "remove it (its effect is 0 by definition)")  # fmt: skip
            for s in STATES:
                if s not in by_state:
                    problem((key, arm), f"has no value for {s}",
                            "give a number or {calm = ..., aroused = ...}")  # fmt: skip
                elif key == "relative_risk" and by_state[s] <= 0:
                    problem((key, arm, s), f"is {by_state[s]:g}",
                            "a relative risk is greater than 0 (1: no effect)")  # fmt: skip
                elif out.scale == "binary":
                    total = out.treated_probability(key, by_state[s], s)
                    if not 0.0 <= total <= 1.0:
                        problem((key, arm, s),
                                f"gives the probability {total:g} when {s} and treated",
                                "keep the baseline's probability times the relative risk "
                                "(plus the risk difference, for effects) within [0, 1]")  # fmt: skip
        if out.scale == "binary":
            for s in STATES:
                if not 0.0 <= out.baseline[s] <= 1.0:
                    problem(("baseline", s), f"is {out.baseline[s]:g}, not a probability",
                            "use 0 to 1")  # fmt: skip
    return problems


def analysis_places(model: EffectsFile) -> list[tuple[tuple, TrialAnalysis]]:
    """``[analysis]`` and every ``[outcomes.NAME.analysis]``, with their locations."""
    return [(("analysis",), model.analysis)] + [
        (("outcomes", name, "analysis"), out.analysis)
        for name, out in model.outcomes.items()
        if out.analysis is not None
    ]


def _analysis_problems(model: EffectsFile, protocol: Protocol, where: str) -> list[Problem]:
    """The analysis options a simulated study can take, and contrasts of the protocol's arms."""
    problems: list[Problem] = []
    defaults = TrialAnalysis()
    for loc, spec in analysis_places(model):
        for key in SET_BY_SIMULATION:
            if getattr(spec, key) != getattr(defaults, key):
                problems.append(
                    located(where, (*loc, key), "is set by the simulation for each study",
                            "remove it (the simulated data have their own columns)")
                )  # fmt: skip
        for i, text in enumerate(spec.contrasts or []):
            try:
                contrast_arms(text, protocol)
            except ValueError as err:
                what, _, fix = str(err).partition(" || ")
                problems.append(located(where, (*loc, "contrasts", i), what, fix))
    return problems


def checked_effects(
    doc: Mapping[str, Any], protocol: Protocol, where: str, check: Check | None = None
) -> EffectsFile:
    """Validate an effects document against ``protocol``, keeping the effects as stated
    (a form shows relative risks as relative risks); every problem is reported at once."""
    model = parse_effects(doc, where)
    problems = _outcome_problems(model, protocol, where)
    problems += _analysis_problems(model, protocol, where)
    if check is not None:
        problems += check(model, protocol, where)
    if problems:
        raise LabmrtError(problems)
    return model


def as_differences(model: EffectsFile) -> EffectsFile:
    """Binary effects stated as relative risks, written as the risk differences they imply.

    The simulations draw a binary outcome as ``baseline + b_i + effect`` (on the
    probability scale), so one form serves every way of stating it; the power
    simulation takes the truth of each tested term back to the log relative risk
    EMEE estimates (:func:`labmrt.powersim.trials.build_terms`).
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


def effects_from_dict(
    doc: Mapping[str, Any], protocol: Protocol, where: str, check: Check | None = None
) -> EffectsFile:
    """Validate an effects document against ``protocol``, as the simulations draw it."""
    return as_differences(checked_effects(doc, protocol, where, check))


def read_effects(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    return read_toml(path, str(path))


def load_effects(
    path: str | Path, protocol: Protocol, *, check: Check | None = None, stated: bool = False
) -> EffectsFile:
    """Read and validate an effects file (TOML) for ``protocol``.

    ``check``: the rules of the simulation that reads it. ``stated``: binary effects
    as the file states them (relative risks stay relative risks), else as the risk
    differences the simulations draw.
    """
    path = Path(path)
    read = checked_effects if stated else effects_from_dict
    model = read(read_effects(path), protocol, str(path), check)
    named = named_protocol(path, model)
    if named is not None and named.content_hash != protocol.content_hash:
        raise LabmrtError(
            located(
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
            located(
                str(path),
                ("protocol",),
                f"'{model.protocol}' not found next to the effects file",
                "give the protocol's path relative to the effects file",
            )
        )
    return load_protocol(target)
