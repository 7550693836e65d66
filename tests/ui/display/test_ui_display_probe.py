"""Before the app opens: the platform probe names missing system libraries.

The probe runs the real PySide6 in a child process against the displays this
machine has: a display that does not exist (``DISPLAY=:93``), and a real X
server (Xvfb) when one is installed. Where the xcb plugin's libraries are
missing (``ldd`` says so), the probe must name them and their Debian packages;
where they are all there, it must name the display that could not be opened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from labmrt.commands import gui as gui_command
from ui.display import (
    PlatformProbe,
    debian_package,
    missing_libraries,
    plugin_file,
    probe_platform,
    requested_platform,
    unreachable_display,
)

XCB_PLUGIN = plugin_file("xcb")
LINUX = sys.platform.startswith("linux")


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env.pop("WAYLAND_DISPLAY", None)
    env.update(values)
    return env


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
    ],
)
def test_debian_package_of_a_library(soname, package):
    assert debian_package(soname) == package


def test_platform_asked_for():
    assert requested_platform({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"
    assert requested_platform({"QT_QPA_PLATFORM": "xcb:nomitshm"}) == "xcb"
    assert requested_platform({"DISPLAY": ":0"}) == "xcb"
    assert requested_platform({"WAYLAND_DISPLAY": "wayland-0"}) == "wayland"


def test_headless_platforms_need_no_probe():
    probe = probe_platform(env=_env(QT_QPA_PLATFORM="offscreen"))
    assert probe.ok and not probe.checked


@pytest.mark.skipif(not LINUX or XCB_PLUGIN is None, reason="needs PySide6's xcb plugin (Linux)")
def test_probe_of_a_display_that_cannot_open_says_why():
    """The child aborts inside Qt (as the app would); the probe reports it instead."""
    probe = probe_platform(env=_env(QT_QPA_PLATFORM="xcb", DISPLAY=":93"), timeout_s=60)
    assert not probe.ok and probe.platform == "xcb"
    assert probe.returncode != 0
    missing = missing_libraries(XCB_PLUGIN, "xcb")  # ldd and the linker cache alone
    assert set(missing) <= set(probe.missing)  # the probe adds what Qt's loader said
    advice = probe.advice()
    if probe.missing:  # this system lacks XCB libraries: each is named with its package
        for soname in probe.missing:
            assert soname in advice
            assert debian_package(soname) in advice
        assert "sudo apt-get install " + " ".join(sorted(probe.packages)) in advice
    else:  # the libraries are there: the reason is the display itself, named
        assert probe.display == ":93"
        assert 'could not open the X display ":93"' in advice
        assert "xcb-cursor0" not in advice  # Qt's hint, wrong here: the library is installed


@pytest.mark.skipif(not LINUX or XCB_PLUGIN is None, reason="needs PySide6's xcb plugin (Linux)")
def test_probe_without_display_says_display_is_not_set():
    probe = probe_platform(env=_env(QT_QPA_PLATFORM="xcb"), timeout_s=60)
    assert not probe.ok
    if not probe.missing:
        assert probe.display == ""
        assert "DISPLAY is not set" in probe.advice()


# What Qt 6 prints when the xcb plugin has its libraries but no X server answers.
QT_NO_DISPLAY = """qt.qpa.xcb: could not connect to display :93
qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin.
qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was found.
This application failed to start because no Qt platform plugin could be initialized.
"""


def test_an_unreachable_display_is_named_not_the_cursor_library():
    """Parsed from Qt's own words, so it holds on machines with and without the libraries."""
    assert unreachable_display(QT_NO_DISPLAY, "xcb", []) == ":93"
    assert unreachable_display(QT_NO_DISPLAY.replace(" :93", ""), "xcb", []) == ""
    # a library is missing: that is the problem to report, not the display
    assert unreachable_display(QT_NO_DISPLAY, "xcb", ["libxcb-icccm.so.4"]) is None
    assert unreachable_display("qt.qpa.plugin: Could not load", "xcb", []) is None
    advice = PlatformProbe(False, "xcb", display=":93").advice()
    assert advice.startswith('Qt\'s "xcb" platform plugin could not open the X display ":93"')
    assert "xcb-cursor" not in advice and "apt-get" not in advice
    assert "DISPLAY is not set" in PlatformProbe(False, "xcb", display="").advice()


@pytest.mark.skipif(not LINUX or XCB_PLUGIN is None, reason="needs PySide6's xcb plugin (Linux)")
def test_demo_falls_back_to_headless_when_the_plugin_cannot_load(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":93")
    assert gui_command.interactive_display()
    assert gui_command.open_demo(tmp_path / "p.toml", tmp_path / "study") is None
    err = capsys.readouterr().err
    assert "cannot open on this display" in err
    assert "Running the headless demo instead" in err
    for soname in missing_libraries(XCB_PLUGIN, "xcb"):
        assert debian_package(soname) in err
    assert not (tmp_path / "study").exists()  # nothing opened, nothing created


@pytest.fixture
def xvfb():
    """A real X server on a free display number; skips where Xvfb is not installed."""
    if not LINUX or shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    for number in range(91, 121):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(
            f"/tmp/.X{number}-lock"
        ):
            break
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}") and time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.skipif(XCB_PLUGIN is None, reason="needs PySide6's xcb plugin (Linux)")
def test_probe_on_a_real_x_server(xvfb):
    probe = probe_platform(env=_env(DISPLAY=xvfb), timeout_s=60)
    missing = missing_libraries(XCB_PLUGIN, "xcb")
    if missing:  # a real display, but the plugin still lacks its libraries
        assert not probe.ok and set(missing) <= set(probe.missing)
    else:
        assert probe.ok, probe.advice()
        assert probe.platform == "xcb"
