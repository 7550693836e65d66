"""Which software recorded a session: labmrt, the packages that touch the data, the OS.

A study runs for months on several workstations; a result that changes with a
package update (a pandas release that reads missing text differently, a
NeuroKit2 release with another peak detector) can only be traced if every
session says what it ran with. The versions are read from the installed
distributions' metadata (:mod:`importlib.metadata`), never by importing the
packages, so the Qt-free core can name the PySide6 release without loading Qt.
"""

from __future__ import annotations

import json
import platform
from functools import lru_cache
from importlib import metadata
from typing import Any

from labmrt import __version__

# Import names of the packages whose behaviour shapes what is recorded or computed.
TRACKED_PACKAGES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "neurokit2",
    "pylsl",
    "PySide6",
)
# Every key a session's software record holds, in the order tables show them.
SOFTWARE_KEYS: tuple[str, ...] = ("labmrt", *TRACKED_PACKAGES, "python", "os")
NOT_INSTALLED = "not installed"


def _column(key: str) -> str:
    return "os" if key == "os" else f"{key.lower()}_version"


# Column names the export's sessions table uses, key by key.
SOFTWARE_COLUMNS: dict[str, str] = {key: _column(key) for key in SOFTWARE_KEYS}


def _distribution_version(import_name: str) -> str:
    """Version of the distribution that provides ``import_name`` (PySide6 ships as several)."""
    try:
        return metadata.version(import_name)
    except metadata.PackageNotFoundError:
        pass
    for dist in _providers().get(import_name, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return NOT_INSTALLED


@lru_cache(maxsize=1)
def _providers() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@lru_cache(maxsize=1)
def software_versions() -> dict[str, str]:
    """This process's software: labmrt, the tracked packages, Python and the OS."""
    record = {"labmrt": __version__}
    record.update({name: _distribution_version(name) for name in TRACKED_PACKAGES})
    record["python"] = platform.python_version()
    record["os"] = platform.platform()
    return record


def parse_software(text: Any) -> dict[str, str]:
    """A stored software record (JSON text) as a dict; empty for sessions recorded before."""
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _session_list(ids: list[int]) -> str:
    return ("session " if len(ids) == 1 else "sessions ") + ", ".join(str(i) for i in ids)


def version_differences(records: dict[int, dict[str, str]]) -> list[str]:
    """One line per software key whose value differs between the given sessions.

    ``records`` maps session id to its software record. Sessions without a record
    (recorded before labmrt kept one) are left out of the comparison: their
    versions are unknown, not different.
    """
    known = {sid: rec for sid, rec in records.items() if rec}
    lines = []
    for key in SOFTWARE_KEYS:
        by_value: dict[str, list[int]] = {}
        for sid, rec in sorted(known.items()):
            by_value.setdefault(rec.get(key, "unknown"), []).append(sid)
        if len(by_value) > 1:
            parts = [f"{value} ({_session_list(ids)})" for value, ids in by_value.items()]
            lines.append(f"{key}: " + "; ".join(parts))
    return lines


def study_version_warnings(
    records: dict[int, dict[str, str]], current: dict[str, str] | None = None
) -> list[str]:
    """Warnings for an experimenter: mixed versions across sessions, and this workstation's.

    ``current`` (default: this process) is compared with the most recent session that
    has a record, so the console can say before a session starts that it would run
    with other software than the study so far.
    """
    warnings = []
    differences = version_differences(records)
    if differences:
        warnings.append(
            "The sessions of this study were run with different software versions: "
            + " | ".join(differences)
        )
    known = {sid: rec for sid, rec in records.items() if rec}
    if known:
        current = software_versions() if current is None else current
        last_sid = max(known)
        last = known[last_sid]
        changed = [
            f"{key} {last.get(key, 'unknown')} -> {current.get(key, 'unknown')}"
            for key in SOFTWARE_KEYS
            if last.get(key, "unknown") != current.get(key, "unknown")
        ]
        if changed:
            warnings.append(
                f"This workstation runs other software than session {last_sid}: "
                + ", ".join(changed)
            )
    return warnings


def describe(record: dict[str, str]) -> str:
    """A record as one readable line (codebook, logs)."""
    if not record:
        return "not recorded"
    return ", ".join(f"{key} {record[key]}" for key in SOFTWARE_KEYS if key in record)
