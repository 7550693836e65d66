"""What a protocol lets an analysis plan refer to, and the check of a plan against it."""

from __future__ import annotations

from pathlib import Path

from labmrt.analysis.hypotheses import Catalog, plan_problems
from labmrt.analysis.spec import AnalysisPlan, load_plan
from labmrt.errors import LabmrtError, Problem
from labmrt.export.participants import distal_outcome_names
from labmrt.protocol import AFFECT_CONTEXT, Protocol, load_protocol
from labmrt.state import STATE_LABELS


def catalog_of(protocol: Protocol) -> Catalog:
    """Outcomes (proximal and distal), arms, baseline and moderators (with levels where
    categorical) of ``protocol``."""
    levels: dict[str, tuple[str, ...] | None] = {}
    context = protocol.context_variable
    for name in [*protocol.moderators, *([context] if context else [])]:
        if name == AFFECT_CONTEXT:
            levels[name] = STATE_LABELS
        elif name == context and protocol.randomization.table is not None:
            levels[name] = tuple(protocol.randomization.table)
        else:
            levels[name] = None
    return Catalog(
        outcomes=tuple(o.name for o in protocol.outcomes),
        arms=tuple(protocol.arm_ids),
        baseline=protocol.baseline_arm.id,
        moderators=levels,
        binary_outcomes=tuple(o.name for o in protocol.outcomes if o.measure == "any"),
        distal_outcomes=distal_outcome_names(protocol),
    )


def checked_plan(plan_path: str | Path, protocol: Protocol | None = None) -> AnalysisPlan:
    """Load a plan and check it against ``protocol`` (default: the protocol the plan names).

    The plan's baseline defaults to the protocol's, so contrasts against
    ``baseline`` resolve without a codebook. Problems are raised together,
    each as ``FILE: key: what (fix)``.
    """
    plan = load_plan(plan_path)
    where = str(plan_path)
    if protocol is None:
        path = plan.protocol_path()
        if path is None:
            return plan
        if not path.is_file():
            raise LabmrtError(
                Problem(
                    f"{where}: protocol",
                    f"{plan.protocol!r} not found (looked for {path})",
                    "the path is relative to the plan file",
                )
            )
        protocol = load_protocol(path)
    problems = plan_problems(plan, catalog_of(protocol), where)
    if problems:
        raise LabmrtError(problems)
    if plan.baseline is None:
        plan = plan.model_copy(update={"baseline": protocol.baseline_arm.id})
    return plan
