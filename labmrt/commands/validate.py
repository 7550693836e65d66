"""``labmrt validate FILE [FILE ...]``: check protocol files before a study starts.

Prints a summary of each valid protocol (arms and probabilities, tasks and
decision points, outcomes, calibration, content hash) and every problem of
each invalid one; exits 2 when any file has a problem, so it can gate a
pre-registration or a CI job. An analysis plan (a TOML file with
``[[hypotheses]]`` or an ``outcome`` and no ``[study]``) is checked as a plan,
against the protocol it names, and so is an effects file of ``labmrt power
--simulate`` (``[outcomes]`` and no ``[study]``), so ``labmrt validate
protocols/*.toml`` checks a study's protocol, plan and expected effects
together.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check protocol files and print their summary",
        description="Check protocol files; print a summary of each, or every problem found.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="protocol file(s) (.toml)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from labmrt.errors import EXIT_USER_ERROR, LabmrtError

    failed = 0
    for i, name in enumerate(args.files):
        if i:
            print()
        if is_analysis_plan(name):
            summarize = _plan_summary
        elif is_effects_file(name):
            summarize = _effects_summary
        else:
            summarize = _protocol_summary
        try:
            text = summarize(name)
        except LabmrtError as err:
            failed += 1
            print(err.message, file=sys.stderr)
            continue
        print(f"{name}: OK")
        print(text)
    if failed:
        if len(args.files) > 1:
            print(f"{failed} of {len(args.files)} protocol file(s) have problems", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def _protocol_summary(name: str) -> str:
    from labmrt.errors import LabmrtError
    from labmrt.protocol import load_protocol

    protocol = load_protocol(name)
    problems = sensor_problems(protocol, where=f"{name}: ")
    if problems:
        raise LabmrtError(problems)
    return protocol.summary_text()


def sensor_problems(protocol, where: str = "") -> list:
    """What only the sensors package can check: pins (units, devices) and whether the
    calibration is long enough for the classifier's feature windows."""
    from sensors.state import calibration_problems

    problems = []
    pins = protocol.sensors.pins if protocol.sensors is not None else {}
    if pins:
        from sensors.acquire import pin_problems

        problems += pin_problems(pins, where=where)
    return problems + calibration_problems(protocol, where=where)


def is_analysis_plan(name: str) -> bool:
    """An analysis plan rather than a protocol (a file that cannot be read is left to the
    protocol loader, which names the problem)."""
    raw = _toml_or_none(name)
    return raw is not None and "study" not in raw and ("hypotheses" in raw or "outcome" in raw)


def is_effects_file(name: str) -> bool:
    """An effects file of `labmrt power --simulate` (outcome models, no study)."""
    raw = _toml_or_none(name)
    return raw is not None and "study" not in raw and isinstance(raw.get("outcomes"), dict)


def _toml_or_none(name: str) -> dict | None:
    import tomllib
    from pathlib import Path

    try:
        return tomllib.loads(Path(name).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _effects_summary(name: str) -> str:
    """One schema serves both simulations; each adds rules of what it alone models, so
    the file is checked with both and the summary says which of them can read it."""
    from labmrt.effects import named_protocol, parse_effects, read_effects
    from labmrt.errors import LabmrtError

    doc = read_effects(name)
    model = parse_effects(doc, name)  # renamed keys are reported here, once
    protocol = named_protocol(name, model)
    if protocol is None:
        return (
            "  effects file (names no protocol: checked on its own; "
            'add protocol = "..." to check arms, states and outcomes against it)\n'
            f"  outcomes: {_outcomes_text(model)}"
        )
    refused = _effects_readers(doc, protocol, name)
    readers = [reader for reader, problems in refused.items() if not problems]
    if "correct" in doc and refused["labmrt simulate"]:
        # [correct] is read by `labmrt simulate` alone: a file that states it is for it
        raise LabmrtError(refused["labmrt simulate"])
    if not readers:
        unique = {p.format(): p for problems in refused.values() for p in problems}
        raise LabmrtError(list(unique.values()))
    lines = [
        f"  effects for {' and '.join(f'`{r}`' for r in readers)} of {model.protocol} "
        f"(content hash {protocol.content_hash})",
        f"  outcomes: {_outcomes_text(model)}",
    ]
    for reader, problems in refused.items():
        if problems:
            lines.append(f"  not for `{reader}`: " + "; ".join(p.format() for p in problems))
    c = model.correct
    if c.mediator or c.effects:
        direct = ", ".join(c.effects) or "none"
        lines.append(
            f"  answers for `labmrt simulate` ([correct]): direct effects {direct}"
            + (f"; through {c.mediator}, slope {c.slope:g}" if c.mediator else "")
        )
    return "\n".join(lines)


def _effects_readers(doc: dict, protocol, name: str) -> dict[str, list]:
    """Each simulation -> the problems it finds in the effects document (none: it reads it)."""
    import warnings

    from labmrt.effects import checked_effects
    from labmrt.errors import DeprecatedKey, LabmrtError
    from labmrt.powersim.effects import check_against_protocol
    from labmrt.simulate import simulation_problems

    found = {}
    for reader, check in (
        ("labmrt power --simulate", check_against_protocol),
        ("labmrt simulate", simulation_problems),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecatedKey)
            try:
                checked_effects(doc, protocol, name, check)
                found[reader] = []
            except LabmrtError as err:
                found[reader] = list(err.problems)
    return found


def _outcomes_text(model) -> str:
    return ", ".join(f"{k} ({v.scale})" for k, v in model.outcomes.items())


def _plan_summary(name: str) -> str:
    from labmrt.protocol import load_protocol
    from labmrt.report.catalog import checked_plan

    plan = checked_plan(name)
    path = plan.protocol_path()
    lines = [
        "  analysis plan" + (f" of {plan.protocol}" if plan.protocol else " (names no protocol)")
    ]
    if path is not None:
        lines.append(f"  protocol content hash: {load_protocol(path).content_hash}")
    lines.append(
        f"  {plan.method}, alpha {plan.alpha:g}, primary family adjusted: {plan.multiplicity}"
    )
    for h in plan.hypotheses:
        lines.append(
            f"    {h.id} [{h.role}] {h.contrast} on {h.outcome}, {h.effect_label()} {h.direction}"
        )
    if plan.robustness is not None:
        rb = plan.robustness
        lines.append(
            f"  robustness: {rb.draws} re-draws (seed {rb.seed}), {len(rb.subsets)} subsets"
        )
    return "\n".join(lines)
