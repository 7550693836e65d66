"""Where liblsl's own log lines go, and from which level on.

liblsl, the C library under pylsl, logs to the terminal from INFO on: a lab of
stations fills it with lines about network interfaces and reconnections. Its
level and a log file come only from its configuration file (``[log] level``
and ``file``; liblsl's ``api_config.cpp``), the first it finds of
``$LSLAPICFG``, ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg`` and
``/etc/lsl_api/lsl_api.cfg``, read once per process at its first network use.
With a file, liblsl writes nothing to the terminal.

:func:`route_lsl_log` therefore writes a copy of the configuration in effect
with a ``[log]`` section added, into labmrt's cache folder, and points
``LSLAPICFG`` at it; child processes (stations, the simulator) inherit it.
Everything else in the lab's configuration (session id, known peers, ports)
is kept as it is; a configuration that has its own ``[log]`` section is the
lab's choice and is left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

#: liblsl's levels (loguru verbosities) by name.
LEVELS: dict[str, int] = {"error": -2, "warning": -1, "info": 0, "debug": 1}
DEFAULT_LEVEL = "warning"
#: The lab's own configuration, remembered once labmrt has pointed LSLAPICFG elsewhere.
SOURCE_ENV = "LABMRT_LSLAPICFG_SOURCE"
LEVEL_ENV = "LABMRT_LSL_LOG"


def config_in_effect() -> Path | None:
    """The configuration file liblsl would read here (None: its defaults)."""
    source = os.environ.get(SOURCE_ENV)
    if source is not None:
        return Path(source) if source else None
    candidates = [os.environ.get("LSLAPICFG", ""), "lsl_api.cfg"]
    candidates += [str(Path.home() / "lsl_api" / "lsl_api.cfg"), "/etc/lsl_api/lsl_api.cfg"]
    for name in candidates:
        if name and Path(name).is_file():
            return Path(name)
    return None


def route_lsl_log(level: str | None = None, file: str | Path | None = None) -> Path | None:
    """Point liblsl's log at ``file`` (else the terminal) from ``level`` on; before any LSL use.

    ``level``: a key of :data:`LEVELS` (default: the level chosen before in this
    process tree, else ``warning``). Returns the configuration file now in effect,
    or None when the lab's own configuration sets ``[log]`` (left as it is).
    """
    level = level or os.environ.get(LEVEL_ENV) or DEFAULT_LEVEL
    if level not in LEVELS:
        raise ValueError(f"unknown liblsl log level {level!r}; use one of {', '.join(LEVELS)}")
    source = config_in_effect()
    text = source.read_text(encoding="utf-8", errors="replace") if source is not None else ""
    if re.search(r"^\s*\[log\]", text, re.MULTILINE | re.IGNORECASE):
        return None
    lines = [text.rstrip("\n"), "", "[log]", f"level = {LEVELS[level]}"]
    if file is not None:
        lines.append(f"file = {Path(file).resolve()}")
    derived = "\n".join(lines).lstrip("\n") + "\n"
    target = _cache_dir() / f"lsl_api-{hashlib.sha256(derived.encode()).hexdigest()[:16]}.cfg"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(derived, encoding="utf-8")
        partial.replace(target)  # atomic: a process reading it never sees half a file
    os.environ.setdefault(SOURCE_ENV, "" if source is None else str(source))
    os.environ[LEVEL_ENV] = level
    os.environ["LSLAPICFG"] = str(target)
    return target


def _cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("labmrt", appauthor=False))
