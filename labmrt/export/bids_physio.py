"""Raw streams as BIDS physiological recordings (``*_physio.tsv.gz`` and their sidecars).

BIDS physio files hold samples on a regular grid: row ``k`` is at
``StartTime + k / SamplingFrequency`` (BIDS specification, "Physiological
recordings"). An LSL stream delivers time-stamped samples that may have gaps
(a lost Bluetooth link, a paused device), so each sample is put on the grid by
its time stamp on the recording workstation's clock (rounded to the nearest
row) and rows no sample landed on are ``n/a``: a gap stays a gap, at its true
place, instead of shifting everything after it. Irregular streams (nominal
rate 0: beat-to-beat intervals, heart-rate events) have no grid and are left out
(the dataset's README names them).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Units of the raw kinds labmrt records, when the stream did not say (the sensors' conventions).
KIND_UNITS: dict[str, str] = {"ecg": "mV", "ppg": "a.u.", "eda": "uS", "ibi": "ms", "hr": "bpm"}
KIND_NAMES: dict[str, str] = {
    "ecg": "electrocardiogram",
    "ppg": "photoplethysmogram (pulse)",
    "eda": "electrodermal activity (skin conductance)",
    "ibi": "inter-beat intervals",
    "hr": "heart rate",
}


@dataclass(frozen=True)
class PhysioStream:
    """One recorded stream of a session, ready to be written as one physio file."""

    kind: str
    source_id: str
    sfreq: float
    data: np.ndarray  # n x channels
    local_t: np.ndarray  # sample times on the recording workstation's clock
    labels: list[str]
    units: list[str]
    stream_name: str = ""


def to_local(timestamps: np.ndarray, offsets: pd.DataFrame) -> np.ndarray:
    """Source-clock times to the workstation's clock with the measured offsets (interpolated)."""
    if offsets.empty:
        return np.asarray(timestamps, dtype=float).copy()
    source_t = offsets["t"].to_numpy(float) - offsets["offset"].to_numpy(float)
    order = np.argsort(source_t)
    offset = np.interp(timestamps, source_t[order], offsets["offset"].to_numpy(float)[order])
    return timestamps + offset


def column_names(labels: list[str], kind: str) -> list[str]:
    """Lower-case, unique column names from channel labels (``ecg``, ``eda_left``, ...)."""
    names: list[str] = []
    for i, label in enumerate(labels):
        base = re.sub(r"[^0-9a-zA-Z_]+", "_", str(label)).strip("_").lower() or f"{kind}_{i + 1}"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def on_grid(stream: PhysioStream, zero_t: float) -> tuple[float, np.ndarray, int]:
    """(StartTime relative to ``zero_t``, the grid of rows, samples dropped as duplicates)."""
    t = stream.local_t
    first = float(t[0])
    index = np.rint((t - first) * stream.sfreq).astype(np.int64)
    keep = np.ones(len(index), dtype=bool)
    keep[1:] = np.diff(index) > 0  # a row already taken (time stamps closer than 1/rate)
    index, values = index[keep], stream.data[keep]
    grid = np.full((int(index[-1]) + 1, stream.data.shape[1]), np.nan)
    grid[index] = values
    return first - zero_t, grid, int((~keep).sum())


def write_physio(stream: PhysioStream, stem: Path, zero_t: float, extra: dict) -> dict:
    """Write ``stem``_physio.tsv.gz and .json (``extra`` first in it); return the sidecar."""
    start, grid, dropped = on_grid(stream, zero_t)
    columns = column_names(stream.labels, stream.kind)
    frame = pd.DataFrame(grid, columns=columns)
    tsv = stem.with_name(stem.name + "_physio.tsv.gz")
    # BIDS physio files have no header row. No file name in the gzip header (the validator's
    # privacy check: a name may identify a participant) and mtime 0: the same bytes each time.
    with tsv.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(frame.to_csv(sep="\t", header=False, index=False, na_rep="n/a").encode("utf-8"))
    what = KIND_NAMES.get(stream.kind, stream.kind)
    sidecar: dict = {
        **extra,
        "SamplingFrequency": float(stream.sfreq),
        "StartTime": round(start, 6),
        "Columns": columns,
        "PhysioType": "generic",
        "RecordingName": stream.kind,
        "Description": (
            f"{what}, LSL stream '{stream.stream_name or stream.source_id}' as recorded by "
            "labmrt; row k is at StartTime + k / SamplingFrequency seconds from the start of "
            "the run (the zero of the events file); n/a where the stream delivered no sample"
        ),
        "SourceId": stream.source_id,
        "SamplesRecorded": int(len(stream.local_t)),
        "SamplesOnSharedRows": dropped,
    }
    for name, label, unit in zip(columns, stream.labels, stream.units, strict=True):
        sidecar[name] = {
            "Description": f"channel '{label}' of the {what} stream",
            "Units": unit or KIND_UNITS.get(stream.kind, "n/a"),
        }
    stem.with_name(stem.name + "_physio.json").write_text(_json(sidecar), "utf-8")
    return sidecar


def _json(doc: dict) -> str:
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
