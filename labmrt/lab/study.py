"""The lab study folder: what every station and the console of one study share.

``lab.json`` names the study (a random study id, the protocol file and its
content hash); ``lab.secret`` holds the key that signs the console's commands.
The secret is created with the study, written with mode 0600 and never sent
over the network: a station reads it from the shared study folder, so only
someone who can read that folder can command its stations. Each station
records into its own store under ``stations/NAME`` (crash-safe and usable
without the network); ``labmrt merge`` gathers them into the study store.

Participant codes are allocated by the console from one append-only file,
``codes.jsonl``, under an exclusive file lock, so no code is handed out twice,
whichever console process asks.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from labmrt.errors import LabmrtError, Problem

LAB_FILE = "lab.json"
SECRET_FILE = "lab.secret"
CODES_FILE = "codes.jsonl"
STATIONS_DIR = "stations"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class LabStudy:
    """One lab study folder (see the module docstring)."""

    dir: Path
    study_id: str
    protocol_path: Path
    protocol_hash: str
    title: str = ""

    def secret(self) -> bytes:
        path = self.dir / SECRET_FILE
        try:
            text = path.read_text(encoding="ascii").strip()
            return bytes.fromhex(text)
        except (OSError, ValueError) as err:
            raise LabmrtError(
                Problem(str(path), f"cannot read the study secret ({err})", "check permissions")
            ) from err

    def station_dir(self, name: str) -> Path:
        return self.dir / STATIONS_DIR / validate_station_name(name)

    def station_dirs(self) -> list[Path]:
        root = self.dir / STATIONS_DIR
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def load_protocol(self):
        from labmrt.protocol import load_protocol

        protocol = load_protocol(self.protocol_path)
        if protocol.content_hash != self.protocol_hash:
            raise LabmrtError(
                Problem(
                    str(self.protocol_path),
                    f"has changed since the study was created (hash {protocol.short_hash}, "
                    f"the study runs {self.protocol_hash[:12]})",
                    "restore the protocol file; a changed protocol is a new study folder",
                )
            )
        return protocol


def validate_station_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise LabmrtError(
            Problem("--name", f"{name!r} is not a station name", "use 1-32 letters, digits, _ or -")
        )
    return name


def create_lab_study(study_dir: str | Path, protocol_path: str | Path) -> LabStudy:
    """Create the lab files of a new study folder (refuses a folder that already has them)."""
    from labmrt.protocol import load_protocol

    study_dir = Path(study_dir)
    if (study_dir / LAB_FILE).exists():
        raise LabmrtError(
            Problem(str(study_dir), "already holds a lab study", "open it without --protocol")
        )
    protocol = load_protocol(protocol_path)
    study_dir.mkdir(parents=True, exist_ok=True)
    secret_path = study_dir / SECRET_FILE
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    doc = {
        "study_id": uuid.uuid4().hex,
        "protocol": str(Path(protocol_path).resolve()),
        "protocol_hash": protocol.content_hash,
        "title": protocol.study.title,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (study_dir / LAB_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return open_lab_study(study_dir)


def open_lab_study(study_dir: str | Path) -> LabStudy:
    study_dir = Path(study_dir)
    path = study_dir / LAB_FILE
    if not path.is_file():
        raise LabmrtError(
            Problem(
                str(study_dir),
                f"is not a lab study folder (no {LAB_FILE})",
                "create it with --protocol PROTOCOL.toml",
            )
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        protocol = Path(doc["protocol"])
        if not protocol.is_absolute():
            protocol = study_dir / protocol
        return LabStudy(
            dir=study_dir,
            study_id=str(doc["study_id"]),
            protocol_path=protocol,
            protocol_hash=str(doc["protocol_hash"]),
            title=str(doc.get("title", "")),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise LabmrtError(
            Problem(str(path), f"is not a readable lab file ({err})", "restore it")
        ) from err


def _used_codes(study: LabStudy) -> set[str]:
    from labmrt.store import DB_NAME, StudyStore

    used: set[str] = set()
    for folder in [study.dir, *study.station_dirs()]:
        if not (folder / DB_NAME).is_file():
            continue
        try:
            store = StudyStore.open(folder, readonly=True, check=False)
        except LabmrtError:
            continue  # a station store being created right now: its codes are in CODES_FILE
        with store:
            used.update(store.sessions()["participant"])
    return used


def allocate_code(study: LabStudy, station: str, prefix: str = "P") -> str:
    """A participant code no one in this study has had, recorded as given to ``station``."""
    path = study.dir / CODES_FILE
    with path.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            given = {json.loads(line)["code"] for line in fh if line.strip()}
            used = given | _used_codes(study)
            n = len(used) + 1
            while f"{prefix}{n:03d}" in used:
                n += 1
            code = f"{prefix}{n:03d}"
            fh.write(json.dumps({"code": code, "station": station}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return code
