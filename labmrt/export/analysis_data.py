"""An export read back for an analysis (or a study folder exported first), and its choices.

The lists the analyst picks from (proximal and distal outcomes, moderators,
controls, contrasts) are built from the export's codebook, which says what every column is
(``source``: outcome, distal, moderator, control, context) and names the arms and the
baseline. Nothing is typed in by hand, so a choice can only name a column that
exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from labmrt.errors import LabmrtError, Problem
from labmrt.export.participants import DISTAL
from labmrt.export.tables import export_study, read_codebook
from labmrt.store import DB_NAME
from labmrt.textcols import read_csv, text_as_objects

# Columns that are identifiers, times or bookkeeping: never offered as variables.
_NOT_VARIABLES = {
    "participant",
    "session",
    "decision_point",
    "task_id",
    "t",
    "available",
    "unavailable_reason",
    "arm",
    "protocol_hash",
    "uniform",
    "shown_t",
    "received_t",
    "answer",
    "answer_t",
    "end_t",
}


@dataclass
class AnalysisData:
    """A decision-point table with its codebook and the variable lists built from it."""

    folder: Path
    frame: pd.DataFrame
    codebook: dict
    arms: list[str]
    baseline: str | None
    outcomes: list[str]
    moderators: list[str]
    controls: list[str]
    columns: dict[str, dict] = field(default_factory=dict)
    distal_outcomes: list[str] = field(default_factory=list)

    @property
    def participants(self) -> int:
        return int(self.frame["participant"].nunique()) if len(self.frame) else 0

    def describe(self) -> str:
        n = len(self.frame)
        available = int(self.frame["available"].sum()) if "available" in self.frame else n
        arms = ", ".join(f"{a}{' (baseline)' if a == self.baseline else ''}" for a in self.arms)
        return (
            f"{self.participants} participants, {n} decision points "
            f"({available} available); arms: {arms or 'none'}"
        )

    def contrasts(self) -> list[tuple[str, str, str | None]]:
        """``(label, arm, versus)``: each arm against the baseline, and against all others."""
        options: list[tuple[str, str, str | None]] = []
        others = [a for a in self.arms if a != self.baseline]
        if self.baseline:
            options += [(f"{a} vs {self.baseline}", a, self.baseline) for a in others]
        options += [(f"{a} vs all other arms", a, None) for a in others]
        return options


def _decision_table_doc(codebook: dict) -> dict:
    for table in codebook.get("tables", []):
        if table.get("table") == "decision_points":
            return table
    raise LabmrtError(
        Problem("codebook.json", "describes no decision_points table", "re-export the study")
    )


def load_export(folder: str | Path) -> AnalysisData:
    """Read ``decision_points`` and ``codebook.json`` from an export folder."""
    folder = Path(folder)
    codebook = read_codebook(folder)
    name = codebook.get("files", {}).get("decision_points", "decision_points.csv")
    path = folder / name
    try:
        frame = (
            text_as_objects(pd.read_parquet(path)) if path.suffix == ".parquet" else read_csv(path)
        )
    except FileNotFoundError as err:
        raise LabmrtError(
            Problem(str(path), "the decision-point table is missing", "re-export the study")
        ) from err
    except (ValueError, OSError) as err:
        raise LabmrtError(Problem(str(path), f"cannot be read: {err}", "re-export")) from err
    doc = _decision_table_doc(codebook)
    columns = {c["name"]: c for c in doc.get("columns", [])}
    numeric = set(frame.select_dtypes("number").columns)

    def role(name: str) -> str:
        return columns.get(name, {}).get("source", "")

    outcomes = [c for c in frame.columns if role(c) == "outcome"]
    outcomes += [c for c in ("correct", "dwell_s") if c in numeric and c not in outcomes]
    moderators = [c for c in ("affect_state", "p_aroused") if c in frame.columns]
    moderators += [
        c
        for c in frame.columns
        if role(c) == "moderator" and not c.startswith("window_") and c in numeric
    ]
    distal = [c for c in frame.columns if role(c) == DISTAL]
    controls = [c for c in frame.columns if role(c) == "control" and c in numeric]
    controls += [c for c in moderators if c not in controls and c in numeric]
    baseline = codebook.get("baseline_arm")
    if isinstance(baseline, list):
        baseline = baseline[0] if baseline else None
    arms = list(
        codebook.get("arms")
        or [c.removeprefix("prob_") for c in frame.columns if c.startswith("prob_")]
    )
    return AnalysisData(
        folder=folder,
        frame=frame,
        codebook=codebook,
        arms=arms,
        baseline=baseline,
        outcomes=[c for c in outcomes if c not in _NOT_VARIABLES],
        moderators=moderators,
        controls=controls,
        columns=columns,
        distal_outcomes=distal,
    )


def export_and_load(study_dir: str | Path) -> AnalysisData:
    """Export a study folder into ``STUDY_DIR/export`` (tables only) and load it."""
    study_dir = Path(study_dir)
    out = study_dir / "export"
    export_study(study_dir, out, "csv", signals=False)
    return load_export(out)


def load_folder(folder: str | Path) -> AnalysisData:
    """An export folder (has ``codebook.json``) or a study folder (has ``labmrt.sqlite``)."""
    folder = Path(folder)
    if (folder / "codebook.json").is_file():
        return load_export(folder)
    if (folder / DB_NAME).is_file():
        return export_and_load(folder)
    raise LabmrtError(
        Problem(
            str(folder),
            "is neither an export (no codebook.json) nor a study folder (no labmrt.sqlite)",
            "choose the folder labmrt export wrote, or the study folder itself",
        )
    )
