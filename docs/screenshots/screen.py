"""The screen the documentation's screenshots are taken on: an X server with a window manager.

Windows look (and are placed) as a window manager frames them, so the scripts run
under Xvfb (1920 x 1080) with openbox when both are installed, and grab each window
from the screen with its frame; without them, offscreen, each window's own content.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SCREEN = (1920, 1080)


@contextlib.contextmanager
def window_manager() -> Iterator[str]:
    """Run the block on a fresh Xvfb + openbox display; yields the Qt platform used."""
    xvfb, openbox = shutil.which("Xvfb"), shutil.which("openbox")
    if not (xvfb and openbox) or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        print("screenshots offscreen (no Xvfb and openbox): windows without their frames")
        yield "offscreen"
        return
    read, write = os.pipe()
    size = "{}x{}x24".format(*SCREEN)
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    select.select([read], [], [], 15)
    os.environ["DISPLAY"] = ":" + os.read(read, 32).decode().strip()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    wm = subprocess.Popen([openbox], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        yield "xcb"
    finally:
        for proc in (wm, server):
            proc.terminate()
            proc.wait(10)
        os.close(read)  # Xvfb dies of a broken pipe once its reader is gone


def save(widget, path: Path, *, whole_screen: bool = False) -> Path:
    """The widget as it is on the screen (with its window frame), or the whole screen."""
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)
    screen = widget.screen()
    if os.environ.get("QT_QPA_PLATFORM") == "xcb" and screen is not None:
        if whole_screen:
            image = screen.grabWindow(0)
        else:
            frame = widget.frameGeometry()
            image = screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    else:
        image = widget.grab()
    assert image.save(str(path)), path
    print(f"{path.name}: {path.stat().st_size // 1024} KB")
    return path
