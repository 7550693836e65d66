"""labmrt's events as an LSL marker stream, so LabRecorder files hold them beside the devices.

One outlet per station (:func:`station_outlet`), opened when the station opens
its study and kept for every session it runs: named ``labmrt-markers-STATION``
(:func:`marker_stream_name`) with a ``source_id`` that is the same each time
the station starts, so a LabRecorder set-up lists it before any session, a
recorder started late still gets the session's first marker, and a recorder
reconnects to it after a restart. Type ``Markers``, irregular rate, one string
channel (``cf_string``). Who and which session a marker belongs to is in every
marker (``participant``, ``session``); the stream's metadata names the station
and the study (and the participant, when one is known as the stream opens:
LSL fixes a stream's metadata when it opens). Each marker is one compact JSON
object (keys sorted) stamped with the LSL time of the fact it reports (not
the time it was pushed). Every marker is also copied to the study store
(``markers`` table), so exports carry them even without LabRecorder.

Payload (``"v": 1``); every marker has ``v``, ``event``, ``participant``,
``session``:

* ``decision``: ``decision_point``, ``task_index``, ``task_id``, ``available``,
  ``unavailable_reason``, ``arm`` (null when unavailable), ``probabilities``
  (every arm), ``state``, ``p_aroused``, ``protocol_hash``.
* ``feature``: ``decision_point`` (null outside a decision task),
  ``task_index``, ``feature``, ``action`` (open/close/use), ``detail``.
* ``task_shown``: ``decision_point``, ``task_index``, ``task_id``.
* ``task_end``: ``decision_point``, ``task_index``, ``task_id``, ``received``,
  ``correct``.
* ``phase_start`` / ``phase_end``: ``phase`` (rest, stressor, break, task).
* ``status``: ``status``, ``reason``.

Parse with ``json.loads(sample[0])``.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import uuid
from typing import Any

from labmrt.session.events import SessionSignals

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1
STREAM_TYPE = "Markers"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def marker_text(event: str, **fields: Any) -> str:
    """The JSON text of one marker (see the module docstring)."""
    payload = {"v": PAYLOAD_VERSION, "event": event, **fields}
    return json.dumps(_plain(payload), sort_keys=True, separators=(",", ":"))


def marker_stream_name(station: str) -> str:
    """The marker stream of a station: the same for every session it runs."""
    return f"labmrt-markers-{station}"


def station_outlet(station: str, *, study: str = "", participant: str = "") -> MarkerOutlet:
    """The station's marker outlet, opened now (when the station opens its study).

    Its ``source_id`` names the machine and the station, so it is the same each
    time the station starts and differs between machines that use one station name.
    """
    return MarkerOutlet(
        marker_stream_name(station),
        f"labmrt-markers:{socket.gethostname()}:{station}",
        participant=participant,
        station=station,
        study=study,
    )


class MarkerOutlet:
    """An LSL string marker outlet (irregular rate)."""

    def __init__(
        self,
        name: str = "labmrt-markers",
        source_id: str | None = None,
        *,
        participant: str = "",
        session: int | None = None,
        station: str = "",
        study: str = "",
    ):
        import pylsl

        self.source_id = source_id or f"labmrt-markers-{uuid.uuid4()}"
        self.name = name
        info = pylsl.StreamInfo(
            name, STREAM_TYPE, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, self.source_id
        )
        desc = info.desc()
        desc.append_child_value("manufacturer", "labmrt")
        desc.append_child_value("payload", f"JSON, version {PAYLOAD_VERSION}")
        for key, value in (("station", station), ("study", study), ("participant", participant)):
            if value:
                desc.append_child_value(key, value)
        if session is not None:
            desc.append_child_value("session", str(session))
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, text: str, t: float | None = None) -> None:
        if t is None:
            self._outlet.push_sample([text])
        else:
            self._outlet.push_sample([text], float(t))

    def have_consumers(self) -> bool:
        return bool(self._outlet.have_consumers())

    def close(self) -> None:
        self._outlet = None


class MarkerRecorder:
    """Listens to an engine's signals; pushes each marker to the outlet and copies it to the store.

    A failed push is logged (the session goes on); a failed store copy raises
    like every store write (it means the disk is full: the session must stop).
    """

    def __init__(
        self,
        signals: SessionSignals,
        store: Any,
        session_id: int,
        participant: str,
        *,
        outlet: MarkerOutlet | None = None,
    ):
        self.store = store
        self.session_id = session_id
        self.participant = participant
        self.outlet = outlet
        self.count = 0
        signals.decision_made.connect(self._decision)
        signals.feature_used.connect(self._feature)
        signals.task_shown.connect(self._task_shown)
        signals.task_ended.connect(self._task_ended)
        signals.phase_started.connect(self._phase_started)
        signals.phase_ended.connect(self._phase_ended)
        signals.status_changed.connect(self._status)

    def emit(self, t: float, event: str, **fields: Any) -> str:
        text = marker_text(event, participant=self.participant, session=self.session_id, **fields)
        if self.outlet is not None:
            try:
                self.outlet.push(text, t)
            except Exception:  # noqa: BLE001 - LSL trouble must not stop the session
                log.exception("could not push a marker")
        self.store.add_marker(self.session_id, t, text)
        self.count += 1
        return text

    # Listeners run inside Signal.emit, which logs and swallows exceptions; a store failure
    # (full disk) is raised again by the engine's next own write, which stops the session.
    def _decision(self, row: dict) -> None:
        self.emit(
            row["t"],
            "decision",
            decision_point=row["decision_point"],
            task_index=row["task_index"],
            task_id=row["task_id"],
            available=bool(row["available"]),
            unavailable_reason=row["unavailable_reason"],
            arm=row["arm"],
            probabilities=row["probabilities"],
            state=row["state"],
            p_aroused=row["p_aroused"],
            protocol_hash=row["protocol_hash"],
        )

    def _feature(self, row: dict) -> None:
        self.emit(
            row["t"],
            "feature",
            decision_point=row["decision_point"],
            task_index=row["task_index"],
            feature=row["feature"],
            action=row["action"],
            detail=row["detail"],
        )

    def _task_shown(self, task: Any, t: float) -> None:
        self.emit(
            t,
            "task_shown",
            decision_point=task.decision_point,
            task_index=task.task_index,
            task_id=task.task_id,
        )

    def _task_ended(self, row: dict) -> None:
        dp = row["decision_point"]
        self.emit(
            row["end_t"],
            "task_end",
            decision_point=None if dp is not None and dp < 0 else dp,
            task_index=row["task_index"],
            task_id=row["task_id"],
            received=row["received"],
            correct=row["correct"],
        )

    def _phase_started(self, phase: str, t: float, duration_s: float | None) -> None:
        self.emit(t, "phase_start", phase=phase, duration_s=duration_s)

    def _phase_ended(self, phase: str, t: float) -> None:
        self.emit(t, "phase_end", phase=phase)

    def _status(self, status: str, t: float, reason: str) -> None:
        self.emit(t, "status", status=status, reason=reason)
