"""The study rules a protocol must follow across fields.

Types and ranges are checked by the pydantic models in :mod:`labmrt.protocol`;
the rules here need several fields at once (exactly one baseline arm, every
probability set covering every arm and summing to 1, tasks naming features
that exist, ...). Each broken rule is one located :class:`Issue`, so all of
them are reported together.

The rules read a :class:`~labmrt.protocol.model.Protocol`, typed ``Any`` here:
the model runs them as its validator, so this module cannot import it back
without an import cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from labmrt.protocol.errors import Issue, did_you_mean
from labmrt.state import STATE_LABELS

#: Tolerance for "each probability set sums to 1".
SUM_TOLERANCE = 1e-9
#: The placeholder in an arm's framing template that the task text replaces.
TASK_PLACEHOLDER = "{task}"
#: Context variable whose values are the classifier's labels (calm/aroused/unknown).
AFFECT_CONTEXT = "affect_state"


def _duplicates(items: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        if item in seen:
            out.append((i, item))
        seen.add(item)
    return out


def _check_probability_set(
    probs: Mapping[str, float], arm_ids: list[str], loc: tuple
) -> list[Issue]:
    issues = []
    for key in probs:
        if key not in arm_ids:
            issues.append(Issue(loc + (key,), f"'{key}' is not an arm", did_you_mean(key, arm_ids)))
    missing = [a for a in arm_ids if a not in probs]
    if missing:
        issues.append(
            Issue(
                loc,
                "has no probability for arm(s) " + ", ".join(missing),
                "give every arm a probability strictly between 0 and 1",
            )
        )
    if not issues:
        total = math.fsum(probs.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            issues.append(
                Issue(
                    loc,
                    f"probabilities sum to {total:.12g}, not 1",
                    'make them add up to 1 (within 1e-9); write thirds as "1/3"',
                )
            )
    return issues


def study_rule_issues(p: Any) -> Iterator[Issue]:
    """Every broken cross-field rule of the protocol ``p``, in the order of its tables."""
    yield from _arm_issues(p)
    yield from _randomization_issues(p)
    yield from _feature_and_task_issues(p)
    yield from _decision_rule_issues(p)
    yield from _outcome_issues(p)
    yield from _calibration_and_sensor_issues(p)
    for name in ("moderators", "controls"):
        for j, dup in _duplicates(list(getattr(p, name))):
            yield Issue((name, j), f"'{dup}' is listed twice", "list each variable once")


def _arm_issues(p: Any) -> Iterator[Issue]:
    """One baseline arm, unique ids, and a wording of every task for every arm."""
    arm_ids = [a.id for a in p.arms]
    for i, dup in _duplicates(arm_ids):
        yield Issue(("arms", i, "id"), f"duplicate arm id '{dup}'", "give every arm its own id")
    baselines = [i for i, a in enumerate(p.arms) if a.baseline]
    if not baselines:
        yield Issue(
            ("arms",),
            "no baseline arm",
            "mark exactly one arm (the neutral, do-nothing wording) with baseline = true",
        )
    elif len(baselines) > 1:
        names = ", ".join(p.arms[i].id for i in baselines)
        yield Issue(
            ("arms", baselines[1], "baseline"),
            f"more than one baseline arm ({names})",
            "keep baseline = true on exactly one arm",
        )
    for i, a in enumerate(p.arms):
        if a.framing is None:
            lacking = [t.id for t in p.tasks if a.id not in t.framings]
            if lacking:
                yield Issue(
                    ("arms", i, "framing"),
                    f"arm '{a.id}' has no framing template and task(s) "
                    f"{', '.join(lacking[:5])}{' ...' if len(lacking) > 5 else ''} "
                    "give no wording for it",
                    'add framing = "... {task} ..." or a framings entry to every task',
                )
        elif TASK_PLACEHOLDER not in a.framing:
            yield Issue(
                ("arms", i, "framing"),
                "does not contain the {task} placeholder, so the task text would not be shown",
                'write e.g. framing = "Think of what you can gain. {task}"',
            )


def _randomization_issues(p: Any) -> Iterator[Issue]:
    """Constant probabilities or a table by context, each set covering the arms and summing to 1."""
    arm_ids = [a.id for a in p.arms]
    r = p.randomization
    if r.probabilities is not None and r.table is not None:
        yield Issue(
            ("randomization",),
            "has both probabilities and table",
            "use probabilities for constant randomization or context + table, not both",
        )
    elif r.probabilities is None and r.table is None:
        yield Issue(
            ("randomization",),
            "has neither probabilities nor table",
            "add probabilities = { arm = p, ... } or context = ... with [randomization.table.*]",
        )
    elif r.probabilities is not None:
        yield from _check_probability_set(
            r.probabilities, arm_ids, ("randomization", "probabilities")
        )
        if r.context is not None:
            yield Issue(
                ("randomization", "context"),
                "is set but the probabilities are constant",
                "remove context, or give a table per context value",
            )
    else:
        yield from _table_issues(p, arm_ids)


def _table_issues(p: Any, arm_ids: list[str]) -> Iterator[Issue]:
    """Probabilities by context: the context recorded, every row a probability set."""
    r = p.randomization
    if r.context is None:
        yield Issue(
            ("randomization", "context"),
            "is required with a probability table",
            f'name the context variable, e.g. context = "{AFFECT_CONTEXT}"',
        )
    if not r.table:
        yield Issue(("randomization", "table"), "is empty", "add a row per context value")
    for key, row in r.table.items():
        yield from _check_probability_set(row, arm_ids, ("randomization", "table", key))
        if r.context == AFFECT_CONTEXT and key not in STATE_LABELS:
            yield Issue(
                ("randomization", "table", key),
                f"'{key}' is not an affective state",
                did_you_mean(key, STATE_LABELS),
            )
    if r.table and r.fallback not in r.table:
        yield Issue(
            ("randomization", "fallback"),
            f"row '{r.fallback}' is not in the table, so a context value without a row "
            "could not be randomized",
            f"add [randomization.table.{r.fallback}] or set fallback to one of: "
            + ", ".join(r.table),
        )
    if r.context is not None and r.context not in p.moderators:
        yield Issue(
            ("randomization", "context"),
            f"'{r.context}' is not listed in moderators, so it would not be recorded",
            f'add "{r.context}" to moderators',
        )
    if r.context == AFFECT_CONTEXT and p.sensors is None:
        yield Issue(
            ("randomization", "context"),
            f"{AFFECT_CONTEXT} needs physiological sensors",
            "add a [sensors] table (streams and classifier)",
        )


def _feature_and_task_issues(p: Any) -> Iterator[Issue]:
    """Unique ids; tasks name existing features and arms, and answers fit their kind."""
    arm_ids = [a.id for a in p.arms]
    feature_ids = [f.id for f in p.features]
    task_ids = [t.id for t in p.tasks]
    for i, dup in _duplicates(feature_ids):
        yield Issue(
            ("features", i, "id"), f"duplicate feature id '{dup}'", "give every feature its own id"
        )
    table_features = {f.id for f in p.features if f.kind == "comparison_table"}

    for i, dup in _duplicates(task_ids):
        yield Issue(("tasks", i, "id"), f"duplicate task id '{dup}'", "give every task its own id")
    for i, t in enumerate(p.tasks):
        for j, fid in enumerate(t.features or []):
            if fid not in feature_ids:
                yield Issue(
                    ("tasks", i, "features", j),
                    f"unknown feature '{fid}'",
                    did_you_mean(fid, feature_ids)
                    if feature_ids
                    else "define it under [[features]]",
                )
        for arm_id in t.framings:
            if arm_id not in arm_ids:
                yield Issue(
                    ("tasks", i, "framings", arm_id),
                    f"'{arm_id}' is not an arm",
                    did_you_mean(arm_id, arm_ids),
                )
        if t.answer_kind == "choice" and len(t.choices) < 2:
            yield Issue(
                ("tasks", i, "choices"),
                "a choice task needs at least two choices",
                "list them, or set answer_kind to text or number",
            )
        if t.correct is not None and t.answer_kind == "choice" and t.correct not in t.choices:
            yield Issue(
                ("tasks", i, "correct"),
                f"'{t.correct}' is not one of the choices",
                did_you_mean(t.correct, t.choices),
            )
        if t.correct is not None and t.answer_kind == "number":
            try:
                float(t.correct)
            except ValueError:
                yield Issue(
                    ("tasks", i, "correct"),
                    f"'{t.correct}' is not a number but answer_kind is number",
                    "write the expected number",
                )
        if t.table is not None:
            ncol = len(t.table.columns)
            for k, row in enumerate(t.table.rows):
                if len(row) != ncol:
                    yield Issue(
                        ("tasks", i, "table", "rows", k),
                        f"has {len(row)} cells but there are {ncol} columns",
                        "give every row one value per column",
                    )
        offered = set(feature_ids if t.features is None else t.features)
        if t.table is None and offered & table_features:
            yield Issue(
                ("tasks", i, "table"),
                "the task offers a comparison table but gives no table data",
                'add table = {"columns": [...], "rows": [[...], ...]}',
            )


def _decision_rule_issues(p: Any) -> Iterator[Issue]:
    """The decision points named exist, and a signal-based availability has sensors."""
    task_ids = [t.id for t in p.tasks]
    rules = p.decision_rules
    if rules.select == "list":
        if not rules.task_ids:
            yield Issue(
                ("decision_rules", "task_ids"),
                'is empty but select = "list"',
                "list the ids of the tasks that are decision points",
            )
        for j, tid in enumerate(rules.task_ids):
            if tid not in task_ids:
                yield Issue(
                    ("decision_rules", "task_ids", j),
                    f"unknown task '{tid}'",
                    did_you_mean(tid, task_ids),
                )
        for j, dup in _duplicates(list(rules.task_ids)):
            yield Issue(("decision_rules", "task_ids", j), f"task '{dup}' is listed twice", "")
    elif rules.task_ids:
        yield Issue(
            ("decision_rules", "task_ids"),
            f'is only used with select = "list" (select is "{rules.select}")',
            'set select = "list" or remove task_ids',
        )
    if rules.select == "every_k" and rules.start_task > len(p.tasks):
        yield Issue(
            ("decision_rules", "start_task"),
            f"is {rules.start_task} but there are only {len(p.tasks)} tasks",
            "choose a task number within the session",
        )
    if (rules.require_signal or rules.min_quality is not None) and p.sensors is None:
        yield Issue(
            ("decision_rules",),
            "availability depends on the physiological signal but there is no [sensors] table",
            "add [sensors], or set require_signal = false and remove min_quality",
        )


def _outcome_issues(p: Any) -> Iterator[Issue]:
    feature_ids = [f.id for f in p.features]
    for i, dup in _duplicates([o.name for o in p.outcomes]):
        yield Issue(
            ("outcomes", i, "name"), f"duplicate outcome '{dup}'", "give every outcome its own name"
        )
    for i, o in enumerate(p.outcomes):
        for j, fid in enumerate(o.features):
            if fid not in feature_ids:
                yield Issue(
                    ("outcomes", i, "features", j),
                    f"unknown feature '{fid}'",
                    did_you_mean(fid, feature_ids)
                    if feature_ids
                    else "define it under [[features]]",
                )
        if o.measure == "any" and o.transform != "none":
            yield Issue(
                ("outcomes", i, "transform"),
                f"{o.transform} of a 0/1 outcome (measure any) changes nothing useful",
                'use transform = "none" with measure = "any"',
            )


def _calibration_and_sensor_issues(p: Any) -> Iterator[Issue]:
    """A calibration classifier has a rest phase; calibration-only keys need one; pins list streams."""
    cal = p.calibration
    if cal is not None and cal.stressor_s > 0 and cal.stressor == "none":
        yield Issue(
            ("calibration", "stressor"),
            f'is "none" but stressor_s is {cal.stressor_s:g}',
            'set stressor = "arithmetic" or stressor_s = 0',
        )
    if (
        p.sensors is not None
        and p.sensors.classifier == "calibration"
        and (cal is None or cal.rest_s <= 0)
    ):
        yield Issue(
            ("sensors", "classifier"),
            '"calibration" needs a calibration phase with rest_s > 0',
            "add [calibration] with rest_s (and stressor_s), or name a trained model file",
        )
    # calibration-only settings beside a trained model: (field, default, why it cannot apply)
    calibration_only = (
        ("state_features", "sustained", "a trained model brings its own features"),
        ("not_separated", "rest_reference", "a trained model is not checked for separation"),
    )
    trained = p.sensors is not None and p.sensors.classifier != "calibration"
    for name, default, why in calibration_only if trained else ():
        value = getattr(p.sensors, name)
        if value != default:
            yield Issue(
                ("sensors", name),
                f'"{value}" applies to classifier = "calibration"; {why}',
                f'remove {name}, or set classifier = "calibration"',
            )
    if p.sensors is not None:
        for j, dup in _duplicates(list(p.sensors.streams)):
            yield Issue(("sensors", "streams", j), f"stream '{dup}' is listed twice", "")
        for kind in p.sensors.pins:
            if kind not in p.sensors.streams:
                yield Issue(
                    ("sensors", "pins", kind),
                    f"pins {kind} but sensors.streams does not list it",
                    f'add "{kind}" to sensors.streams, or remove the pin',
                )
