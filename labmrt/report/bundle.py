"""The pre-registration bundle: frozen files, a SHA-256 manifest, one bundle hash; and its check.

A bundle is a folder ready to upload (OSF, AsPredicted)::

    study/PROTOCOL.toml, its tasks CSV and classifier model, the plan
    sample_size.json            what `labmrt power --json` wrote (inputs and result)
    software.json               the software the bundle was made with
    registration.json           roles of the files, protocol content hash, plan hash
    preregistration.md / .html  the readable document
    MANIFEST.sha256             `sha256sum` format, every file above

The bundle hash is the SHA-256 of ``MANIFEST.sha256``: one value that names
every byte of the registration (``sha256sum -c MANIFEST.sha256`` checks the
files with standard tools). Nothing time-dependent is written, so the same
inputs on the same software give the same bundle hash.

:func:`check_sessions` compares a study's sessions with the registration: the
protocol content hash of each session, and its software (the OS string is
shown but not counted as a difference: the registration is usually made on
another computer than the lab's workstation).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol import Protocol
from labmrt.protocol.files import sha256_file
from labmrt.store.provenance import SOFTWARE_KEYS, parse_software, software_versions

FORMAT = "labmrt-preregistration"
MANIFEST = "MANIFEST.sha256"
REGISTRATION = "registration.json"
# Software keys whose difference counts as a deviation (the OS string names the kernel build).
COMPARED_SOFTWARE = tuple(k for k in SOFTWARE_KEYS if k != "os")


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def read_power(path: str | Path) -> dict:
    """A ``labmrt power --json`` output: the closed form (``n`` and ``power``) or a
    simulation of the protocol (``--simulate``: ``ns`` and ``terms``)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise LabmrtError(Problem(str(path), "no such file", "check the path")) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LabmrtError(
            Problem(str(path), f"is not JSON ({err})", "save the output of `labmrt power --json`")
        ) from None
    if not isinstance(value, dict) or not (
        {"n", "power"} <= set(value) or {"ns", "terms"} <= set(value)
    ):
        raise LabmrtError(
            Problem(
                str(path),
                "is not a `labmrt power --json` result (no n and power, nor ns and terms)",
                "save the output of `labmrt power ... --json` into the file",
            )
        )
    return value


def _protocol_files(protocol: Protocol) -> list[tuple[Path, str]]:
    """``(source file, name in the bundle's study/ folder)`` of the protocol and what it names."""
    src = protocol.source_path
    if src is None:
        raise LabmrtError(Problem("protocol", "was not read from a file", "load it from a file"))
    folder = src.parent
    files = [(src, src.name)]
    named = []
    if protocol.tasks_file:
        named.append(folder / protocol.tasks_file)
    model = protocol.classifier_path()
    if model is not None:
        named.append(model)
    for path in named:
        try:
            rel = path.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            raise LabmrtError(
                Problem(
                    str(src),
                    f"names {path}, outside the protocol's folder",
                    "put the file beside the protocol so the bundle can keep the same layout",
                )
            ) from None
        files.append((path, rel))
    return files


def write_bundle(
    protocol: Protocol,
    plan_path: str | Path,
    out: str | Path,
    document,
    power: dict | None = None,
    power_path: str | Path | None = None,
) -> tuple[Path, str]:
    """Write the bundle into ``out`` (new or empty); returns ``(out, bundle hash)``.

    ``document(registration) -> Document`` renders the readable part from the
    registration record, so it states exactly what the files hold.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabmrtError(
            Problem(str(out), "exists and is not an empty folder", "choose a new folder")
        )
    plan_path = Path(plan_path)
    study = out / "study"
    try:
        study.mkdir(parents=True, exist_ok=True)
        copied = []
        for src, rel in _protocol_files(protocol):
            target = study / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            copied.append(target)
        plan_name = plan_path.name
        if (study / plan_name).exists():
            plan_name = f"plan_{plan_name}"
        shutil.copyfile(plan_path, study / plan_name)
        software = software_versions()
        registration = {
            "format": FORMAT,
            "version": 1,
            "study": {
                "title": protocol.study.title,
                "version": protocol.study.version,
                "preregistration": protocol.study.preregistration,
            },
            "protocol": {
                "file": f"study/{protocol.source_path.name}",  # type: ignore[union-attr]
                "content_hash": protocol.content_hash,
                "files": [p.relative_to(out).as_posix() for p in copied],
            },
            "plan": {"file": f"study/{plan_name}", "sha256": sha256_file(plan_path)},
            "sample_size": None,
            "software": software,
        }
        if power is not None:
            (out / "sample_size.json").write_bytes(_json_bytes(power))
            registration["sample_size"] = {
                "file": "sample_size.json",
                "source": Path(power_path).name if power_path else None,
            }
            effects = Path(str(power.get("effects") or ""))
            if power.get("effects") and effects.is_file():  # a simulation's assumed effects
                shutil.copyfile(effects, out / f"sample_size_{effects.name}")
                registration["sample_size"]["effects"] = f"sample_size_{effects.name}"
        (out / "software.json").write_bytes(_json_bytes(software))
        (out / REGISTRATION).write_bytes(_json_bytes(registration))
        doc = document(registration)
        (out / "preregistration.md").write_text(doc.to_markdown(), "utf-8")
        (out / "preregistration.html").write_text(doc.to_html(), "utf-8")
        manifest = manifest_text(out)
        (out / MANIFEST).write_text(manifest, "utf-8")
    except OSError as err:
        raise LabmrtError(
            Problem(str(out), f"cannot write the bundle: {err.strerror or err}", "check the folder")
        ) from None
    return out, hashlib.sha256(manifest.encode()).hexdigest()


def manifest_text(folder: Path) -> str:
    """``sha256  path`` for every file under ``folder`` but the manifest, sorted by path."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST:
            lines.append(f"{sha256_file(path)}  {rel}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- reading, checking
@dataclass
class Bundle:
    """A registration read back: its record, its hash and whether its files are intact."""

    folder: Path
    registration: dict
    bundle_hash: str
    damaged: list[str] = field(default_factory=list)

    @property
    def protocol_hash(self) -> str:
        return self.registration["protocol"]["content_hash"]

    @property
    def software(self) -> dict[str, str]:
        return dict(self.registration.get("software") or {})

    @property
    def plan_path(self) -> Path:
        return self.folder / self.registration["plan"]["file"]

    @property
    def protocol_path(self) -> Path:
        return self.folder / self.registration["protocol"]["file"]


def read_bundle(folder: str | Path) -> Bundle:
    """Read a bundle and check every file against its manifest (damage is listed, not raised)."""
    folder = Path(folder)
    reg_path, man_path = folder / REGISTRATION, folder / MANIFEST
    for path in (reg_path, man_path):
        if not path.is_file():
            raise LabmrtError(
                Problem(
                    str(folder),
                    f"is not a pre-registration bundle (no {path.name})",
                    "give the folder `labmrt preregister --out` wrote",
                )
            )
    try:
        registration = json.loads(reg_path.read_text("utf-8"))
        manifest = man_path.read_text("utf-8")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LabmrtError(Problem(str(reg_path), f"cannot be read: {err}", "")) from None
    if registration.get("format") != FORMAT:
        raise LabmrtError(Problem(str(reg_path), "is not a labmrt registration", ""))
    damaged = []
    listed = set()
    for line in manifest.splitlines():
        digest, _, rel = line.partition("  ")
        listed.add(rel)
        path = folder / rel
        if not path.is_file():
            damaged.append(f"{rel}: missing")
        elif sha256_file(path) != digest:
            damaged.append(f"{rel}: changed since registration")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST and rel not in listed:
            damaged.append(f"{rel}: added after registration")
    return Bundle(folder, registration, hashlib.sha256(manifest.encode()).hexdigest(), damaged)


@dataclass
class SessionCheck:
    """One session against the registration."""

    session: int
    participant: str
    session_no: int
    status: str
    protocol_hash: str
    protocol_matches: bool
    software_differences: list[str]
    os_differs: bool
    protocol_changes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.protocol_matches and not self.software_differences

    def to_dict(self) -> dict:
        return {
            "session": self.session,
            "participant": self.participant,
            "session_no": self.session_no,
            "status": self.status,
            "protocol_hash": self.protocol_hash,
            "protocol_matches": self.protocol_matches,
            "protocol_changes": self.protocol_changes,
            "software_differences": self.software_differences,
            "os_differs": self.os_differs,
            "matches": self.matches,
        }


def software_differences(registered: dict[str, str], record: dict[str, str]) -> list[str]:
    """``key recorded (registered X)`` for each compared key that differs; unknown if not kept."""
    if not record:
        return ["software not recorded (session made before versions were kept)"]
    return [
        f"{k} {record.get(k, 'unknown')} (registered {registered.get(k, 'unknown')})"
        for k in COMPARED_SOFTWARE
        if record.get(k, "unknown") != registered.get(k, "unknown")
    ]


def protocol_changes(registered_text: str | None, session_text: str, limit: int = 8) -> list[str]:
    """The keys whose content differs between two canonical protocol texts (first ``limit``)."""
    if not registered_text:
        return []
    try:
        a, b = json.loads(registered_text), json.loads(session_text)
    except json.JSONDecodeError:
        return []
    found: list[str] = []

    def walk(x, y, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else k)
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, f"{path}[{i + 1}]")
        elif x != y:
            found.append(f"{path}: {_short(x)} -> {_short(y)}")

    walk(a, b, "")
    return found


def _short(v: object) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def check_sessions(
    store, protocol_hash: str, software: dict[str, str], protocol_text: str | None = None
) -> list[SessionCheck]:
    """Every session of an open :class:`~labmrt.store.StudyStore` against the registration."""
    table = store.sessions()
    out = []
    for row in table.itertuples(index=False):
        record = parse_software(row.software_json)
        matches = row.protocol_hash == protocol_hash
        changes = []
        if not matches and protocol_text:
            info = store.session_info(int(row.session))
            changes = protocol_changes(protocol_text, info.protocol_text)
        out.append(
            SessionCheck(
                session=int(row.session),
                participant=str(row.participant),
                session_no=int(row.session_no),
                status=str(row.status),
                protocol_hash=str(row.protocol_hash),
                protocol_matches=matches,
                software_differences=software_differences(software, record),
                os_differs=bool(record) and record.get("os") != software.get("os"),
                protocol_changes=changes,
            )
        )
    return out
