"""The envelope of every lab message: a short clear header and a sealed body.

The lab network is not trusted: anyone on it can read every LSL stream and
publish streams of their own. So each message (a console's command, a
station's acknowledgement or heartbeat) is one JSON object of this form::

    {"v": 2, "type": "status", "study": "<study id>", "station": "ws-1",
     "seq": 1733650000123, "box": "<base64: 12-byte nonce, ciphertext, 16-byte tag>"}

The header (``v``, ``type``, ``study``, ``station``, ``seq``) is what the
receiver needs to route the message and to refuse replays before it opens it;
it is readable by anyone. Everything else is in ``box``: the body as JSON,
padded with spaces to a multiple of :data:`PAD` bytes (so its length tells
little), encrypted and authenticated with AES-256-GCM (NIST SP 800-38D, as
implemented by the ``cryptography`` package) under a key derived from the
study secret with HKDF-SHA256 (RFC 5869; the study id is the context). The
header is the AEAD's associated data: a message whose header or body was
altered, or that was sealed with another key, does not open. Nonces are 96
random bits per message; at one heartbeat a second per station that stays far
below the 2**32 messages NIST allows per key with random nonces.

Receiving is defensive, because the bytes come from anyone: a message longer
than :data:`MAX_TEXT` bytes, not UTF-8, not a JSON object (deep nesting
included), or whose header fields have the wrong type or are out of range is
refused with :class:`Refused` (a short reason, safe to log) before anything
else looks at it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 2
TYPES = ("command", "ack", "status")
#: The largest message a receiver looks at (bytes on the wire); a heartbeat is about 1 kB.
MAX_TEXT = 8192
#: Sealed bodies are padded to a multiple of this many bytes.
PAD = 256
#: Sequence numbers are JSON integers that every JSON reader holds exactly.
MAX_SEQ = 2**53
NONCE_BYTES = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_STUDY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEADER_KEYS = frozenset({"v", "type", "study", "station", "seq", "box"})


class Refused(Exception):
    """A received message that is not used; ``reason`` is short and safe to log.

    ``forged``: it did not open with the study's key (rather than being malformed).
    """

    def __init__(self, reason: str, *, forged: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.forged = forged


@dataclass(frozen=True)
class Header:
    """The clear part of a message (see the module docstring)."""

    type: str
    study: str
    station: str
    seq: int

    def aad(self) -> bytes:
        doc = {"v": VERSION, "type": self.type, "study": self.study, "station": self.station}
        return json.dumps({**doc, "seq": self.seq}, sort_keys=True, separators=(",", ":")).encode()


def is_name(value: Any) -> bool:
    """A station name: 1-32 letters, digits, ``_`` or ``-``, starting with a letter or digit."""
    return isinstance(value, str) and _NAME.match(value) is not None


def is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SEQ


def parse(data: str | bytes, size: int = -1) -> dict[str, Any]:
    """The JSON object of one received message, within the size limit; else :class:`Refused`.

    ``size``: the length it was sent with, when ``data`` is only its head.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    size = max(size, len(data))
    if size > MAX_TEXT:
        raise Refused(f"too large ({size} bytes, at most {MAX_TEXT})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise Refused("not JSON") from None
    if not isinstance(doc, dict):
        raise Refused("not a JSON object")
    return doc


def read_header(doc: dict[str, Any]) -> Header:
    """The checked header of a parsed message; :class:`Refused` names the first bad field."""
    if doc.get("v") != VERSION or isinstance(doc.get("v"), bool):
        raise Refused("not a labmrt message of this version")
    if set(doc) != _HEADER_KEYS:
        raise Refused("unexpected fields")
    kind, study, station, seq = doc["type"], doc["study"], doc["station"], doc["seq"]
    if kind not in TYPES:
        raise Refused("unknown type")
    if not isinstance(study, str) or not _STUDY.match(study):
        raise Refused("bad study id")
    if not is_name(station):
        raise Refused("bad station name")
    if not is_seq(seq):
        raise Refused("bad sequence number")
    if not isinstance(doc["box"], str):
        raise Refused("bad box")
    return Header(kind, study, station, seq)


def message_key(secret: bytes, study_id: str) -> bytes:
    """The study's message key: HKDF-SHA256 of the secret, bound to the study id."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"labmrt lab messages v2 " + study_id.encode(),
    )
    return hkdf.derive(secret)


class Sealer:
    """Seals and opens the messages of one study (one key, derived once)."""

    def __init__(self, secret: bytes, study_id: str):
        self.study_id = study_id
        self._aead = AESGCM(message_key(secret, study_id))

    def seal(self, header: Header, body: Any) -> str:
        plain = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
        plain += b" " * (-len(plain) % PAD)
        nonce = os.urandom(NONCE_BYTES)
        box = nonce + self._aead.encrypt(nonce, plain, header.aad())
        doc = {
            "v": VERSION,
            "type": header.type,
            "study": header.study,
            "station": header.station,
            "seq": header.seq,
            "box": base64.b64encode(box).decode("ascii"),
        }
        return json.dumps(doc, separators=(",", ":"))

    def open(self, header: Header, doc: dict[str, Any]) -> dict[str, Any]:
        """The body of a message whose header was read; :class:`Refused` if it does not open."""
        try:
            box = base64.b64decode(doc["box"], validate=True)
        except (binascii.Error, ValueError):
            raise Refused("box is not base64") from None
        if len(box) < NONCE_BYTES + 16:
            raise Refused("box too short")
        try:
            plain = self._aead.decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], header.aad())
        except InvalidTag:
            raise Refused(
                "not sealed with this study's key (forged or altered)", forged=True
            ) from None
        try:
            body = json.loads(plain.decode("utf-8"))
        except (ValueError, RecursionError):
            raise Refused("sealed body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused("sealed body is not a JSON object")
        return body


def describe(data: str | bytes, limit: int = 120, size: int = -1) -> dict[str, Any]:
    """A bounded, printable account of a received message, for a log line."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    size = max(size, len(raw))
    head = raw[:limit].decode("utf-8", "replace")
    return {"bytes": size, "head": head + ("..." if size > limit else "")}
