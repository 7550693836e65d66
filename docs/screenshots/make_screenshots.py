"""Make the README's screenshots of the three views from a real simulated session.

Runs the app offscreen with simulated ECG/EDA sensors on the bundled
framing x affect protocol (calibration shortened to 100 s rest + 60 s
stressor, the first 6 tasks), a scripted participant, then opens the
analysis view on a simulated 24-participant study (``labmrt demo
--headless``). Takes about four minutes.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_gui_stall import ScriptedParticipant  # noqa: E402


def shortened_protocol(folder: Path) -> Path:
    text = (ROOT / "protocols" / "framing_affect.toml").read_text()
    text = re.sub(r"rest_s = \d+", "rest_s = 100", text)
    text = re.sub(r"min_spacing_s = \d+", "min_spacing_s = 0", text)
    rows = (ROOT / "protocols" / "framing_affect_tasks.csv").read_text().splitlines()
    (folder / "framing_affect_tasks.csv").write_text("\n".join(rows[:7]) + "\n")
    path = folder / "framing_affect.toml"
    path.write_text(text)
    return path


def save(widget, name: str, size=None) -> None:
    if size:
        widget.resize(*size)
    for _ in range(5):
        QApplication.processEvents()
    path = OUT / f"{name}.png"
    widget.grab().save(str(path))
    print(f"{path.name}: {path.stat().st_size // 1024} KB")


def main() -> None:
    from ui.app import LabmrtApp

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    tmp = Path(tempfile.mkdtemp(prefix="labmrt-shots-"))

    def spin(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.002)

    lab = LabmrtApp(study_dir=tmp / "study", protocol=shortened_protocol(tmp), participant="P01")
    lab.console._force_close = True
    lab.show()
    lab.console.resize(1400, 860)
    lab.participant_window.resize(1280, 800)
    lab.console.start_simulated_sensors()  # a child process: it imports NeuroKit2 first
    spin(
        90,
        until=lambda: (
            len(lab.console.buffers) == 2
            and all(b.state == "streaming" for b in lab.console.buffers)
        ),
    )
    assert lab.console.start_session()
    participant = None
    spin(1)
    lab.participant_window.message.button.click()
    spin(100, until=lambda: lab.console.phase_label.text().startswith("Calibration: stressor"))
    spin(20)
    save(lab.participant_window, "participant_stressor")
    save(lab.console, "console_calibration")
    participant = ScriptedParticipant(lab.participant_window, np.random.default_rng(2))
    spin(120, until=lambda: lab.participant_window.task_view is not None)
    spin(60, until=lambda: lab.console.log_model.rowCount() >= 3)
    view = lab.participant_window.task_view
    spin(5, until=lambda: view.confirmed)
    spin(0.5)
    save(lab.participant_window, "participant_task")
    save(lab.console, "console_session")
    ended = []
    lab.host.bridge.ended.connect(lambda s, r: ended.append(s))
    spin(120, until=lambda: bool(ended))
    spin(2)
    if lab.console.summary_dialog is not None:
        save(lab.console.summary_dialog, "console_summary")
        lab.console.summary_dialog.accept()
    del participant

    demo = tmp / "demo-study"
    subprocess.run(
        [sys.executable, "-m", "labmrt.cli", "demo", "--headless", "--out", str(demo)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    analysis = lab.open_analysis(demo / "export")
    spin(30, until=lambda: analysis.data is not None)
    analysis.resize(1300, 820)
    analysis.contrast_combo.setCurrentIndex(analysis.contrast_combo.findText("loss vs neutral"))
    for i in range(analysis.moderators.count()):
        item = analysis.moderators.item(i)
        if item.text() == "affect_state":
            item.setCheckState(item.checkState().__class__.Checked)
    analysis.run()
    spin(30, until=lambda: analysis.outcome is not None)
    analysis.draws.setValue(2000)
    job = analysis.run_check()
    spin(60, until=lambda: not job.running)
    save(analysis, "analysis_view")
    dialog = analysis.open_sample_size()
    spin(1)
    save(dialog, "analysis_sample_size", (900, 560))
    dialog.close()
    lab.quit()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
