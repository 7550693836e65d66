"""Reading a protocol file into a validated :class:`~labmrt.protocol.model.Protocol`.

The file and the files it names (the tasks CSV, a trained model) are read here;
every problem found on the way, in whichever file, is collected and reported
together, located against the protocol key or the CSV line it concerns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol.errors import (
    ProtocolInvalid,
    TaskRows,
    issues_from_validation_error,
    to_problems,
)
from labmrt.protocol.files import read_tasks_csv, read_toml, sha256_file
from labmrt.protocol.model import Protocol


def load_protocol(path: str | Path) -> Protocol:
    """Read, validate and freeze a protocol file.

    Raises :class:`LabmrtError` listing every problem found, each as
    ``FILE: path.to.field: what (fix)``. A file the protocol refers to (the tasks
    CSV, a trained model) that is missing is a problem of the protocol, reported
    against the key that names it, and checking goes on so that one run shows
    everything to fix.
    """
    path = Path(path)
    shown = str(path)
    raw = dict(read_toml(path, shown))
    problems: list[Problem] = []
    if "source_path" in raw:
        problems.append(Problem(f"{shown}: source_path", "unknown key 'source_path'", "remove it"))
        del raw["source_path"]
    tasks_unknown = raw.get("tasks_file") is not None and "tasks" not in raw
    tasks, rows = _tasks_from_file(raw, path, shown, problems)
    if tasks is not None:
        raw["tasks"] = tasks
        tasks_unknown = False
    _hash_model_file(raw, path, shown, problems)
    try:
        protocol = Protocol.model_validate({**raw, "source_path": path.resolve()})
    except ValidationError as err:
        issues = issues_from_validation_error(err, Protocol)
        if tasks_unknown:  # the tasks file could not be read: that is already reported
            issues = [i for i in issues if i.loc != ("tasks",)]
        problems += to_problems(issues, shown, rows)
    except ProtocolInvalid as err:
        problems += to_problems(err.issues, shown, rows)
    if problems:
        raise LabmrtError(problems)
    return protocol


def _referenced_file(
    value: str, path: Path, shown: str, key: str, noun: str, fix: str
) -> tuple[Path | None, Problem | None]:
    """Resolve a file named in the protocol; a Problem against ``key`` when it is not there.

    Relative names are relative to the protocol's folder, so a protocol copied
    without its files is told which file to copy along, not just that a path failed.
    """
    target = Path(value)
    relative = not target.is_absolute()
    target = path.parent / target if relative else target
    where = f"{shown}: {key}"
    if target.is_file():
        try:
            with target.open("rb"):
                return target, None
        except OSError as err:
            return None, Problem(where, f"{noun}{value!r} cannot be read ({err.strerror})", fix)
    if target.is_dir():
        return None, Problem(where, f"{noun}{value!r} is a folder, not a file", fix)
    found = "not found next to the protocol" if relative else "not found"
    return None, Problem(where, f"{noun}{value!r} {found}", f"looked for {target}; {fix}")


def _tasks_from_file(
    raw: dict[str, Any], path: Path, shown: str, problems: list[Problem]
) -> tuple[list[dict[str, Any]] | None, TaskRows | None]:
    """The tasks of ``tasks_file`` with their CSV lines, or None (problems appended)."""
    tasks_file = raw.get("tasks_file")
    if tasks_file is None:
        return None, None
    if not isinstance(tasks_file, str) or not tasks_file:
        problems.append(
            Problem(f"{shown}: tasks_file", "must be the CSV file name as text", "quote it")
        )
        del raw["tasks_file"]  # reported once here, not again as a type error
        return None, None
    if "tasks" in raw:
        problems.append(
            Problem(
                f"{shown}: tasks",
                "tasks are given both inline and in tasks_file",
                "keep one of [[tasks]] or tasks_file",
            )
        )
        return None, None
    csv_path, problem = _referenced_file(
        tasks_file,
        path,
        shown,
        "tasks_file",
        "",
        "copy the tasks CSV beside the protocol, or correct tasks_file, "
        "which is relative to the protocol's folder",
    )
    if problem is not None:
        problems.append(problem)
        return None, None
    try:
        return read_tasks_csv(csv_path, str(Path(shown).parent / tasks_file))
    except LabmrtError as err:
        problems += err.problems
        return None, None


def _hash_model_file(raw: dict[str, Any], path: Path, shown: str, problems: list[Problem]) -> None:
    """Put the trained model's sha256 into ``raw['sensors']`` (problems appended)."""
    sensors = raw.get("sensors")
    if not isinstance(sensors, dict):
        return
    if "classifier_sha256" in sensors:
        problems.append(
            Problem(
                f"{shown}: sensors.classifier_sha256",
                "is computed from the model file, not written by hand",
                "remove it",
            )
        )
        sensors = {k: v for k, v in sensors.items() if k != "classifier_sha256"}
        raw["sensors"] = sensors
    classifier = sensors.get("classifier")
    if not isinstance(classifier, str) or classifier in ("calibration", ""):
        return
    model, problem = _referenced_file(
        classifier,
        path,
        shown,
        "sensors.classifier",
        "model file ",
        'copy the model file beside the protocol, train one with "labmrt sensors train", '
        'or write "calibration"',
    )
    if problem is not None:
        problems.append(problem)
        return
    try:
        raw["sensors"] = {**sensors, "classifier_sha256": sha256_file(model)}
    except OSError as err:  # removed or unreadable between the check and the read
        problems.append(
            Problem(
                f"{shown}: sensors.classifier",
                f"model file {classifier!r} cannot be read ({err.strerror})",
                "check the file",
            )
        )
