"""LabRecorder's remote control socket: one TCP connection, one text command a line.

LabRecorder (labstreaminglayer/App-LabRecorder) listens on port 22345 when
``RCSEnabled`` is set in its configuration and takes ``select all``, ``select
none``, ``filename {root:...} {template:...} {participant:...} {session:...}
{task:...} {run:...} {modality:...}``, ``start``, ``stop`` and ``update``. It
answers ``OK`` whatever happened, so a reply proves only that the connection
is up: :meth:`RcsClient.alive` reads that much, and whether the recording
really runs is checked on its file (:mod:`labmrt.recording.control`).
"""

from __future__ import annotations

import re
import socket

from labmrt.errors import LabmrtError, Problem

#: LabRecorder's RCS port unless its configuration says otherwise.
DEFAULT_PORT = 22345
CONNECT_TIMEOUT_S = 3.0


def parse_address(text: str, where: str = "labrecorder") -> tuple[str, int]:
    """``host:port`` (or ``host``: the default port) -> ``(host, port)``."""
    match = re.fullmatch(r"\s*([^\s:]+)(?::(\d{1,5}))?\s*", str(text))
    port = int(match.group(2)) if match and match.group(2) else DEFAULT_PORT
    if match is None or not 0 < port < 65536:
        raise LabmrtError(
            Problem(
                where,
                f"{text!r} is not a LabRecorder address",
                f"write host:port, e.g. localhost:{DEFAULT_PORT}",
            )
        )
    return match.group(1), port


def _braced(value: str) -> str:
    """A value of a ``filename`` option; braces would end it early, so none may be in it."""
    return str(value).replace("{", "(").replace("}", ")")


def filename_command(fields: dict[str, str]) -> str:
    """``filename {key:value} ...`` in the order given."""
    return "filename " + " ".join(f"{{{k}:{_braced(v)}}}" for k, v in fields.items() if v != "")


class RcsClient:
    """One connection to LabRecorder's RCS. Every method raises ``OSError`` on trouble."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout: float = CONNECT_TIMEOUT_S):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.replies: list[str] = []
        self._pending = b""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self) -> RcsClient:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return self

    def send(self, command: str) -> None:
        if self.sock is None:
            raise ConnectionError("not connected")
        self.sock.sendall(command.encode("utf-8") + b"\n")

    def alive(self) -> bool:
        """False once LabRecorder closed the connection (replies read on the way)."""
        if self.sock is None:
            return False
        self.sock.setblocking(False)  # a socket with a timeout would wait for data
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    return False
                self._pending += data
                *lines, self._pending = self._pending.split(b"\n")
                self.replies += [line.decode("utf-8", "replace").strip() for line in lines]
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
