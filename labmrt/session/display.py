"""What the participant screen is given: display records, built from the protocol.

The participant screen takes plain display records (:class:`TaskDisplay`,
:class:`FeatureSpec`) so it never sees the protocol's arms. This module is the
one place that reads a task and its features from the protocol (or from the
engine's framed task) and builds those records, given the text the engine
decided to show; :func:`instructions` writes the welcome text the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: How a task checks that its framing was received (see :class:`TaskDisplay`).
CONTROLS = ("confirm", "dwell", "none")


@dataclass(frozen=True)
class FeatureSpec:
    """What the participant screen needs to render one feature.

    ``kind`` picks the widget (help, hint, calculator, notes, comparison_table;
    anything else gets the generic panel). ``content`` is the help/hint text
    (help text may be split into topics with markdown ``#`` headings);
    ``table`` holds ``{"columns": [...], "rows": [[...], ...]}`` for a
    comparison table.
    """

    id: str
    kind: str
    label: str = ""
    content: str = ""
    table: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.id.replace("_", " ").capitalize()


@dataclass(frozen=True)
class TaskDisplay:
    """Everything the participant sees for one task (already framed by the engine).

    ``control`` is the per-protocol check: ``confirm`` (the workspace unlocks
    after an "I have read the task" click; received = confirmed), ``dwell``
    (received when the time from showing the task to the first interaction is
    at least ``min_dwell_s``) or ``none`` (received whenever shown).
    """

    task_index: int
    task_id: str
    text: str
    features: tuple[FeatureSpec, ...] = ()
    heading: str = ""
    question: str = ""
    answer_kind: str = "text"  # text | number | choice
    choices: tuple[str, ...] = ()
    control: str = "confirm"
    min_dwell_s: float = 3.0
    time_limit_s: float | None = None
    decision_point: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _spec(feature: Any, task: Any, table: dict | None) -> FeatureSpec:
    """A feature as shown with ``task``: the task's own hint, help or table wins."""
    content, shown = feature.content, None
    if feature.kind == "hint" and task.hint:
        content = task.hint
    elif feature.kind in ("help", "search") and task.help:
        content = task.help
    elif feature.kind == "comparison_table" and table is not None:
        shown = {"columns": list(table["columns"]), "rows": [list(r) for r in table["rows"]]}
    return FeatureSpec(feature.id, feature.kind, feature.label, content, shown)


def feature_specs(protocol: Any, task: Any) -> tuple[FeatureSpec, ...]:
    """The features offered in ``task``, with task-specific content (hint, help, table)."""
    table = None if task.table is None else task.table.model_dump()
    return tuple(_spec(f, task, table) for f in protocol.task_features(task))


def display_of_framed_task(task: Any) -> TaskDisplay:
    """The display record of an engine ``FramedTask``; its ``arm`` is deliberately dropped."""
    return TaskDisplay(
        task_index=task.task_index,
        task_id=task.task_id,
        text=task.text,
        features=tuple(_spec(f, task, task.table) for f in task.features),
        heading=f"Task {task.number} of {task.total}",
        question=task.question,
        answer_kind=task.answer_kind,
        choices=tuple(task.choices),
        control=task.control,
        min_dwell_s=float(task.min_dwell_s),
        time_limit_s=task.time_limit_s,
        decision_point=task.decision_point,
    )


def task_display(
    protocol: Any,
    task_index: int,
    text: str,
    *,
    decision_point: int | None = None,
    n_tasks: int | None = None,
) -> TaskDisplay:
    """The display record of task ``task_index`` showing ``text`` (already framed)."""
    task = protocol.tasks[task_index]
    control = protocol.control
    total = n_tasks if n_tasks is not None else len(protocol.tasks)
    return TaskDisplay(
        task_index=task_index,
        task_id=task.id,
        text=text,
        features=feature_specs(protocol, task),
        heading=f"Task {task_index + 1} of {total}",
        question=task.question,
        answer_kind=task.answer_kind,
        choices=tuple(task.choices),
        control=control.mode,
        min_dwell_s=float(control.min_dwell_s),
        time_limit_s=task.time_limit_s,
        decision_point=decision_point,
    )


def instructions(protocol: Any) -> str:
    """The welcome text: what the session holds, from the protocol (never its arms)."""
    tools = [f.label.lower() for f in protocol.features]
    parts = [
        "You will work on a series of short tasks in an information system. Each task "
        "describes a choice; answer it as well as you can."
    ]
    if tools:
        listed = ", ".join(tools[:-1]) + (f" and {tools[-1]}" if len(tools) > 1 else tools[0])
        parts.append(f"Tools are there for you to use as you like: {listed}.")
    cal = protocol.calibration
    if cal is not None and (cal.rest_s > 0 or cal.stressor_s > 0):
        steps = []
        if cal.rest_s > 0:
            steps.append(f"a calm rest of {_minutes(cal.rest_s)}")
        if cal.stressor_s > 0 and cal.stressor != "none":
            steps.append(f"a short arithmetic exercise ({_minutes(cal.stressor_s)})")
        parts.append("First comes " + " and then ".join(steps) + ".")
    parts.append("Press Start (or the space bar) when you are ready.")
    return "\n\n".join(parts)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:g} seconds"
    return f"about {round(seconds / 60)} minutes"
