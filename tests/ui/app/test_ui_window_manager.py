"""Under a real window manager (Xvfb + openbox): the windows stay where the app puts them.

A bare X server maps a window where it asks to be; a window manager places it by its
own rules unless the position was asked for before mapping, and decorates it. Each
case runs the app in a child process on its own X display with openbox managing it,
and reads back the framed windows' geometry.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labmrt.cli import main

XVFB, OPENBOX = shutil.which("Xvfb"), shutil.which("openbox")
pytestmark = pytest.mark.skipif(
    not (XVFB and OPENBOX),
    reason="needs Xvfb and openbox (Debian: apt-get install xvfb openbox x11-utils)",
)
SCREEN = (1920, 1080)
PROJECT = Path(__file__).resolve().parents[3]

CHILD = """
import json, sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
from ui.app import LabmrtApp

app = QApplication([])
mode, folder = sys.argv[1], Path(sys.argv[2])
if mode == "session":
    lab = LabmrtApp(study_dir=folder, protocol=Path(sys.argv[3]), participant="P01")
else:
    lab = LabmrtApp(analysis_folder=folder)
lab.console._force_close = True
lab.show()
end = time.monotonic() + 2.0  # framed by the window manager, the placement check done
while time.monotonic() < end:
    app.processEvents()
    time.sleep(0.02)
shown = {
    w.objectName() or w.windowTitle(): list(w.frameGeometry().getRect())
    for w in app.topLevelWidgets()
    if w.isVisible() and w.isWindow()
}
framed = all(w.frameGeometry() != w.geometry() for w in app.topLevelWidgets() if w.isVisible())
print(json.dumps({"windows": shown, "framed": framed}), flush=True)
lab.quit()
"""


@pytest.fixture(scope="module")
def display():
    """A fresh X display (Xvfb picks a free number) managed by openbox."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        [XVFB, "-displayfd", str(write), "-screen", "0", "{}x{}x24".format(*SCREEN)]
        + ["-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    ready, _, _ = select.select([read], [], [], 15)
    number = os.read(read, 32).decode().strip() if ready else ""
    if not number:
        xvfb.kill()
        pytest.skip("Xvfb did not start")
    env = {**os.environ, "DISPLAY": f":{number}"}
    wm = subprocess.Popen([OPENBOX], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # openbox takes over the root window
    try:
        yield env
    finally:
        for proc in (wm, xvfb):
            proc.terminate()
            proc.wait(10)
        os.close(read)  # held open: Xvfb dies of a broken pipe once its reader is gone


def run_app(env: dict, *args: str) -> dict:
    env = {**env, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(PROJECT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def inside(rect: list[int]) -> bool:
    x, y, w, h = rect
    return x >= 0 and y >= 0 and x + w <= SCREEN[0] and y + h <= SCREEN[1]


def test_console_and_participant_window_stay_apart(display, tmp_path, protocols_dir):
    seen = run_app(display, "session", str(tmp_path / "study"), str(protocols_dir / "demo.toml"))
    assert seen["framed"], "openbox did not decorate the windows"
    windows = seen["windows"]
    console, participant = windows["console_window"], windows["participant_window"]
    assert set(windows) == {"console_window", "participant_window"}
    cx, cy, cw, ch = console
    px, py, pw, ph = participant
    assert px >= cx + cw or py >= cy + ch, f"the participant window {participant} covers {console}"
    assert inside(console) and inside(participant)


def test_the_analysis_view_opens_alone_and_on_the_screen(display, tmp_path, protocols_dir):
    study = tmp_path / "study"
    assert (
        main(
            ["run", str(protocols_dir / "minimal.toml"), "--study", str(study)]
            + ["--participant", "P01", "--simulated", "--no-markers"]
        )
        == 0
    )
    assert main(["export", str(study)]) == 0
    seen = run_app(display, "analysis", str(study / "export"))
    assert list(seen["windows"]) == ["analysis_window"]
    assert inside(seen["windows"]["analysis_window"])
