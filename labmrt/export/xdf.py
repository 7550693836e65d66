"""Write XDF 1.0 files (the LabRecorder format) from recorded arrays.

PyPI has XDF readers (pyxdf) but no maintained writer that takes arrays that are
already recorded, so labmrt writes the small, fully specified container itself
(XDF 1.0 specification, github.com/sccn/xdf/wiki/Specifications). The layout
follows LabRecorder, so pyxdf, MNE and EEGLAB read the result as a recording:

* magic ``XDF:``, a FileHeader chunk, one StreamHeader per stream, Samples
  chunks carrying every sample's own time stamp (no delta compression, so the
  stored LSL times come back bit for bit), ClockOffset chunks, Boundary chunks
  between sample batches (so a damaged file can be read past the damage), and
  a StreamFooter per stream.
* Time stamps are written in the clock of the stream's source, exactly as
  recorded; each clock offset is written as LabRecorder does,
  ``(collection time in the source clock, offset)`` with the collection time
  ``t - offset`` for a measurement taken at local time ``t``. pyxdf's clock
  synchronisation then maps the samples onto the recording computer's clock.
"""

from __future__ import annotations

import os
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Chunk tags of the XDF 1.0 specification.
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
# The fixed 16-byte Boundary chunk content of the specification.
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")

_FORMATS = {
    np.dtype("float64"): "double64",
    np.dtype("float32"): "float32",
    np.dtype("int64"): "int64",
    np.dtype("int32"): "int32",
    np.dtype("int16"): "int16",
    np.dtype("int8"): "int8",
}
SAMPLES_PER_CHUNK = 4096


@dataclass
class XdfStream:
    """One stream to write: numeric ``data`` (n x channels) or a list of strings (markers)."""

    name: str
    type: str
    source_id: str
    data: np.ndarray | Sequence[str]
    timestamps: np.ndarray
    nominal_srate: float = 0.0
    channel_labels: list[str] | None = None
    unit: str = ""
    # (local time t of the measurement, offset) pairs: local time = source time + offset
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)
    hostname: str = ""

    @property
    def is_string(self) -> bool:
        return not isinstance(self.data, np.ndarray)


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _prepare(stream: XdfStream) -> tuple[np.ndarray | list[str], np.ndarray, str, int]:
    stamps = np.asarray(stream.timestamps, dtype="<f8").ravel()
    if stream.is_string:
        values = [str(v) for v in stream.data]
        if len(values) != stamps.size:
            raise ValueError(f"{stream.name}: {len(values)} markers but {stamps.size} timestamps")
        return values, stamps, "string", 1
    data = np.asarray(stream.data)
    if data.ndim == 1:
        data = data[:, None]
    fmt = _FORMATS.get(data.dtype.newbyteorder("="))
    if fmt is None:
        data = data.astype(np.float64)
        fmt = "double64"
    if data.shape[0] != stamps.size:
        raise ValueError(f"{stream.name}: {data.shape[0]} samples but {stamps.size} timestamps")
    return data, stamps, fmt, data.shape[1]


def _header(stream: XdfStream, fmt: str, n_channels: int) -> bytes:
    info = ET.Element("info")
    _sub(info, "name", stream.name)
    _sub(info, "type", stream.type)
    _sub(info, "channel_count", n_channels)
    _sub(info, "nominal_srate", repr(float(stream.nominal_srate)))
    _sub(info, "channel_format", fmt)
    _sub(info, "source_id", stream.source_id)
    _sub(info, "version", "1.1000000000000001")
    _sub(info, "created_at", "0")
    _sub(info, "uid", str(uuid.uuid4()))
    _sub(info, "session_id", "default")
    _sub(info, "hostname", stream.hostname)
    desc = _sub(info, "desc")
    labels = stream.channel_labels or [f"{stream.type or 'ch'}{i + 1}" for i in range(n_channels)]
    if len(labels) != n_channels:
        raise ValueError(f"{stream.name}: {len(labels)} labels for {n_channels} channels")
    channels = _sub(desc, "channels")
    for label in labels:
        ch = _sub(channels, "channel")
        _sub(ch, "label", label)
        _sub(ch, "unit", stream.unit)
        _sub(ch, "type", stream.type)
    _sub(_sub(desc, "acquisition"), "manufacturer", "labmrt")
    return _xml(info)


def _numeric_samples(data: np.ndarray, stamps: np.ndarray) -> bytes:
    n, n_ch = data.shape
    layout = np.dtype([("tsb", "u1"), ("ts", "<f8"), ("v", data.dtype.newbyteorder("<"), (n_ch,))])
    packed = np.empty(n, dtype=layout)
    packed["tsb"] = 8
    packed["ts"] = stamps
    packed["v"] = data
    return _varlen(n) + packed.tobytes()


def _string_samples(values: list[str], stamps: np.ndarray) -> bytes:
    parts = [_varlen(len(values))]
    for ts, text in zip(stamps, values, strict=True):
        raw = text.encode("utf-8")
        parts.append(b"\x08" + struct.pack("<d", float(ts)) + _varlen(len(raw)) + raw)
    return b"".join(parts)


def _footer(stamps: np.ndarray, offsets: list[tuple[float, float]]) -> bytes:
    info = ET.Element("info")
    _sub(info, "first_timestamp", repr(float(stamps[0])) if stamps.size else "0")
    _sub(info, "last_timestamp", repr(float(stamps[-1])) if stamps.size else "0")
    _sub(info, "sample_count", stamps.size)
    block = _sub(info, "clock_offsets")
    for when, value in offsets:
        off = _sub(block, "offset")
        _sub(off, "time", repr(float(when)))
        _sub(off, "value", repr(float(value)))
    return _xml(info)


class XdfWriter:
    """Write an XDF file one stream at a time, so only one stream is in memory at once.

    Each stream is written whole (header, clock offsets, samples, boundary, footer);
    the file appears under its name only when :meth:`close` succeeds.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".part")
        self._fh = self._tmp.open("wb")
        self._next_id = 1
        self._fh.write(b"XDF:")
        file_info = ET.Element("info")
        _sub(file_info, "version", "1.0")
        _sub(file_info, "writer", "labmrt")
        self._fh.write(_chunk(TAG_FILE_HEADER, _xml(file_info)))

    def __enter__(self) -> XdfWriter:
        return self

    def __exit__(self, exc_type, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write_stream(self, stream: XdfStream) -> int:
        """Append one whole stream; returns its stream id in the file."""
        values, stamps, fmt, n_ch = _prepare(stream)
        header = _header(stream, fmt, n_ch)
        sid = self._next_id
        self._next_id += 1
        fh = self._fh
        fh.write(_chunk(TAG_STREAM_HEADER, struct.pack("<I", sid) + header))
        remote_offsets = [(t - off, off) for t, off in stream.clock_offsets]
        for when, value in remote_offsets:
            fh.write(_chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", sid, float(when), float(value))))
        for start in range(0, stamps.size, SAMPLES_PER_CHUNK):
            stop = start + SAMPLES_PER_CHUNK
            if isinstance(values, list):
                body = _string_samples(values[start:stop], stamps[start:stop])
            else:
                body = _numeric_samples(values[start:stop], stamps[start:stop])
            fh.write(_chunk(TAG_SAMPLES, struct.pack("<I", sid) + body))
        fh.write(_chunk(TAG_BOUNDARY, BOUNDARY_UUID))
        fh.write(
            _chunk(TAG_STREAM_FOOTER, struct.pack("<I", sid) + _footer(stamps, remote_offsets))
        )
        return sid

    def close(self) -> Path:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


def write_xdf(path: str | Path, streams: Sequence[XdfStream]) -> Path:
    """Write ``streams`` to an XDF 1.0 file at ``path`` (atomically: temp file + rename)."""
    for stream in streams:
        _prepare(stream)  # refuse bad input before creating anything
    with XdfWriter(path) as writer:
        for stream in streams:
            writer.write_stream(stream)
    return Path(path)
