"""Make the README's lab-view screenshots from a real lab on this machine.

Four ``labmrt station --simulated`` processes (the demo protocol, scripted
affective state, paced 3x) and the console's lab view offscreen: three
stations get a participant, the second is paused, the fourth is stopped and
shows offline. Then one station's live view. Takes about half a minute.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_lab_screenshot.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from labmrt.commands.lab import spawn_stations, stop_stations
    from labmrt.lab.console import LabConsole
    from labmrt.lab.study import create_lab_study
    from labmrt.lab.transport import ConsoleLink
    from ui.lab import LabView
    from ui.widgets import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style()
    folder = Path(tempfile.mkdtemp(prefix="labmrt-lab-shot-"))
    study = create_lab_study(folder / "study", ROOT / "protocols" / "demo.toml")
    link = ConsoleLink(study.study_id)
    console = LabConsole(study, link, merge_on_end=False)
    view = LabView(console)
    view.resize(1180, 330)
    view.show()

    def spin(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until is not None and until()):
            app.processEvents()
            time.sleep(0.01)

    procs = spawn_stations(study.dir, 4, 3.0)
    try:
        spin(60, until=lambda: len(console.stations) == 4)
        for name in ("ws-1", "ws-2", "ws-3"):
            view.start(name)
        spin(40, until=lambda: console.stations["ws-2"].status.get("phase") == "task")
        console.pause("ws-2", "participant asked a question")
        procs[3].terminate()
        spin(12)
        assert view.grab().save(str(OUT / "lab_view.png"))
        live = view.open_live("ws-1")
        spin(1)
        assert live.grab().save(str(OUT / "lab_station_live.png"))
    finally:
        link.close()
        stop_stations(procs)
    print(f"wrote {OUT / 'lab_view.png'} and {OUT / 'lab_station_live.png'}")


if __name__ == "__main__":
    main()
