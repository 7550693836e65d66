"""Turn protocol objects into what the participant screen shows.

The participant screen takes plain display records (:class:`TaskDisplay`,
:class:`FeatureSpec`) so it never sees the protocol's arms. This module is the
one place that reads a task and its features from the protocol and builds
those records, given the text the engine decided to show.
"""

from __future__ import annotations

from typing import Any

from ui.features import FeatureSpec
from ui.task_view import TaskDisplay


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
