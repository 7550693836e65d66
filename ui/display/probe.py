"""Will Qt's platform plugin load on this display? Asked in a child process first.

When Qt cannot load its platform plugin it aborts the whole process
(``qFatal``: "Could not load the Qt platform plugin "xcb" ... This application
failed to start"), with no chance to fall back. On Linux desktops the usual
cause is the xcb plugin of the PySide6 wheel needing XCB libraries that a
fresh system lacks (``libxcb-cursor0``, ``libxcb-icccm4``, ``libxcb-keysyms1``
on Debian 12). So before the app opens, :func:`probe_platform` creates a
``QGuiApplication`` in a child Python process with the same environment; if
that child does not report its platform, the missing libraries are read from
``ldd`` of the plugin, from Qt's own plugin-loader messages
(``QT_DEBUG_PLUGINS=1``) and, for the ``libxcb-cursor`` that Qt opens at run
time, from the linker cache; :attr:`PlatformProbe.advice` names the Debian /
Ubuntu packages that provide them. When nothing is missing and Qt's xcb plugin
says it "could not connect to display", the advice names that display (an SSH
session without X forwarding sets none, or one no X server answers on): Qt
then also prints its generic hint that ``xcb-cursor0`` is needed, which is
dropped where the linker finds ``libxcb-cursor``, so nobody installs a
library they already have.

No Qt is imported in this process: the point is to ask before loading it.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: What the child runs: create the GUI application, say which platform it got.
PROBE_CODE = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication(sys.argv[:1])\n"
    "print('labmrt-platform', app.platformName(), flush=True)\n"
)
_REPORT = re.compile(r"^labmrt-platform (\S+)", re.MULTILINE)
#: "Cannot load library .../libqxcb.so: (libxcb-icccm.so.4: cannot open shared object file"
_CANNOT_OPEN = re.compile(r"(lib[\w.+-]+?\.so(?:\.\d+)*): cannot open shared object file")
_NOT_FOUND = re.compile(r"^\s*(\S+\.so(?:\.\d+)*) => not found", re.MULTILINE)
#: "qt.qpa.xcb: could not connect to display :93" (nothing after "display" when DISPLAY is unset)
_NO_DISPLAY = re.compile(r"could not connect to display ?([^\s]*)")
#: Qt >= 6.5 prints this whenever the xcb plugin fails, whatever the cause.
_CURSOR_HINT = "xcb-cursor0 or libxcb-cursor0 is needed"
#: Libraries Qt's xcb plugin opens at run time (so ldd does not list them): library, soname.
_RUNTIME_LIBS = {"xcb": (("xcb-cursor", "libxcb-cursor.so.0"),)}
#: Platforms that need no display and no system libraries beyond Qt's own.
HEADLESS_PLATFORMS = ("offscreen", "minimal")


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a shared library, by Debian's naming rule.

    Policy 8.1: the package is the library name (lower case, without ``.so``)
    followed by its SONAME version, with a hyphen between when the name ends in
    a digit: ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``, ``libxkbcommon-x11.so.0``
    -> ``libxkbcommon-x11-0``, ``libEGL.so.1`` -> ``libegl1``.
    """
    match = re.fullmatch(r"(lib[\w.+-]+?)\.so((?:\.\d+)*)", soname)
    if not match:
        return soname
    name, version = match.group(1).lower(), match.group(2).lstrip(".")
    if not version:
        return name
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


@dataclass(frozen=True)
class PlatformProbe:
    """The answer: did the platform plugin load, and if not, what is missing."""

    ok: bool
    platform: str
    missing: tuple[str, ...] = ()  # shared libraries (sonames) the plugin could not find
    detail: str = ""  # Qt's own words when it failed, or why the probe could not tell
    returncode: int | None = None
    checked: bool = field(default=True)  # False: not probed (not Linux, or a headless platform)
    # the X display that could not be opened ("" when DISPLAY was unset); None: not that problem
    display: str | None = None

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(sorted({debian_package(s) for s in self.missing}))

    def advice(self) -> str:
        """What to tell the user: the problem, and the command that fixes it if known."""
        if self.ok:
            return f'Qt\'s "{self.platform}" platform plugin loads here.'
        if self.missing:
            return (
                f'Qt\'s "{self.platform}" platform plugin cannot load: the system lacks '
                f"{', '.join(self.missing)}. On Debian or Ubuntu install them with\n"
                f"  sudo apt-get install {' '.join(self.packages)}\n"
                "(other distributions: the packages that provide these files)."
            )
        if self.display is not None:
            where = (
                f'the X display "{self.display}" (DISPLAY={self.display}): no X server answers there'
                if self.display
                else "an X display: DISPLAY is not set (e.g. an SSH session without X forwarding)"
            )
            return (
                f'Qt\'s "{self.platform}" platform plugin could not open {where}. Run it in a '
                "desktop session, over ssh -X, or on a virtual screen (Xvfb); without a screen "
                "use --headless or QT_QPA_PLATFORM=offscreen."
            )
        reason = self.detail or "Qt gave no reason"
        return f'Qt\'s "{self.platform}" platform plugin did not start here: {reason}'


def display_available() -> bool:
    """False on a Linux machine without a display server and no QT_QPA_PLATFORM chosen."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def requested_platform(env: dict[str, str] | None = None) -> str:
    """The platform Qt will try first: ``QT_QPA_PLATFORM``, else what the session offers."""
    env = os.environ if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return "wayland"
    return "xcb"


def plugin_file(platform: str) -> Path | None:
    """The plugin library of a platform in the installed PySide6 wheel (None if not there)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "Qt" / "plugins" / "platforms" / f"libq{platform}.so"
        if candidate.is_file():
            return candidate
    return None


def missing_libraries(plugin: Path | None, platform: str = "", qt_output: str = "") -> list[str]:
    """Shared libraries the plugin needs and the system lacks (``ldd``, Qt's log, ldconfig)."""
    found: list[str] = []
    if plugin is not None and shutil.which("ldd"):
        try:
            out = subprocess.run(
                ["ldd", str(plugin)], capture_output=True, text=True, timeout=20
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found += _NOT_FOUND.findall(out)
    found += _CANNOT_OPEN.findall(qt_output)
    for library, soname in _RUNTIME_LIBS.get(platform, ()):
        if ctypes.util.find_library(library) is None:
            found.append(soname)
    return list(dict.fromkeys(found))


def _qt_reason(output: str, cursor_found: bool) -> str:
    """The lines of Qt's message worth showing (without the plugin loader's debug noise).

    Qt's xcb-cursor hint is left out where the library is there (``cursor_found``).
    """
    keep = [
        line.strip()
        for line in output.splitlines()
        if (
            line.startswith(("qt.qpa.", "This application failed", "Could not"))
            or "could not connect to display" in line
        )
        and not (cursor_found and _CURSOR_HINT in line)
    ]
    # The display that did not answer is the cause; Qt's closing lines, printed after it
    # (and after its standing note on libxcb-cursor0), only say that the plugin failed.
    display = [line for line in keep if "could not connect to display" in line]
    return " ".join(dict.fromkeys(display[-1:] + keep[-3:]))


def unreachable_display(output: str, platform: str, missing: list[str]) -> str | None:
    """The display Qt's xcb plugin could not connect to, when that is the whole problem."""
    if platform != "xcb" or missing:
        return None
    found = _NO_DISPLAY.search(output)
    return None if found is None else found.group(1)


def probe_platform(
    *, timeout_s: float = 30.0, env: dict[str, str] | None = None, python: str | None = None
) -> PlatformProbe:
    """Create a ``QGuiApplication`` in a child process; report whether it got a platform.

    ``env`` defaults to this process's environment (so the child sees the same
    ``DISPLAY`` and ``QT_QPA_PLATFORM``). Not Linux, or a headless platform
    (offscreen, minimal): nothing to probe, the answer is ``ok``.
    """
    env = dict(os.environ if env is None else env)
    platform = requested_platform(env)
    if not sys.platform.startswith("linux") or platform in HEADLESS_PLATFORMS:
        return PlatformProbe(True, platform, checked=False)
    env["QT_DEBUG_PLUGINS"] = "1"  # the loader then says which library it could not open
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", PROBE_CODE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return PlatformProbe(
            False,
            platform,
            detail=f"the display did not answer within {timeout_s:g} s "
            f"(DISPLAY={env.get('DISPLAY', '')!r})",
        )
    reported = _REPORT.search(done.stdout)
    if done.returncode == 0 and reported:
        return PlatformProbe(True, reported.group(1), returncode=0)
    output = done.stderr + done.stdout
    missing = missing_libraries(plugin_file(platform), platform, output)
    cursor_found = "libxcb-cursor.so.0" not in missing
    return PlatformProbe(
        False,
        platform,
        missing=tuple(missing),
        detail=_qt_reason(output, cursor_found) or f"the probe exited with code {done.returncode}",
        returncode=done.returncode,
        display=unreachable_display(output, platform, missing),
    )
