"""A stand-in for LabRecorder's remote control server, for the tests.

Listens on 127.0.0.1, records every command line it gets, answers ``OK`` as
LabRecorder does, and on ``start`` writes a file under the ``root`` and
``template`` of the last ``filename`` command that grows until ``stop``. It can
be slow to accept (``accept_delay_s``), drop the connection after some
commands (``drop_after``), or take the commands and write nothing (``write``).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from pathlib import Path


class FakeLabRecorder:
    def __init__(self, *, accept_delay_s: float = 0.0, drop_after: int | None = None,
                 write: bool = True, root: Path | None = None):  # fmt: skip
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accept_delay_s = accept_delay_s
        self.drop_after = drop_after
        self.write = write
        self.root = root  # LabRecorder's own StudyRoot: where files go without {root:...}
        self.commands: list[str] = []
        self.files: list[Path] = []
        self._recording = threading.Event()
        self._closed = threading.Event()
        self._conn: socket.socket | None = None
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        time.sleep(self.accept_delay_s)
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        self._conn = conn
        fields: dict[str, str] = {}
        buffer = b""
        with conn:
            while not self._closed.is_set():
                try:
                    data = conn.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode()
                    self.commands.append(line)
                    try:
                        conn.sendall(b"OK\n")
                    except OSError:
                        return
                    if line.startswith("filename"):
                        fields = dict(re.findall(r"\{(\w+):([^}]*)\}", line))
                    elif line == "start" and self.write:
                        root = fields.get("root") or self.root
                        if root is None:
                            raise AssertionError("no root: give FakeLabRecorder(root=...)")
                        path = Path(root) / fields["template"]
                        self.files.append(path)
                        self._recording.set()
                        threading.Thread(target=self._grow, args=(path,), daemon=True).start()
                    elif line == "stop":
                        self._recording.clear()
                    if self.drop_after is not None and len(self.commands) >= self.drop_after:
                        return  # closes the connection: the recorder went away

    def _grow(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            while self._recording.is_set() and not self._closed.is_set():
                fh.write(b"x" * 100)
                fh.flush()
                time.sleep(0.05)

    def close(self) -> None:
        self._closed.set()
        self.server.close()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
