"""The study report in the app and in a real browser engine.

*Report…* in the analysis view writes the report of a plan off the GUI
thread (a GUI timer keeps ticking meanwhile). The report is then opened in
Qt WebEngine (Chromium) in its own process (`python -m ui.analysis.report_browser`):
it loads, the page logs no JavaScript error, every ``<img>`` decoded
(``naturalWidth > 0``), and the screenshot shows the page, not a blank.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from labmrt.cli import main
from ui.analysis import AnalysisWindow

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"
SCREENSHOTS = ROOT / "screenshots"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_ui") / "study"
    assert main(["simulate", str(PROTOCOL), "--participants", "10", "--seed", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    return out


def test_report_button_writes_the_report_off_the_gui_thread(qtbot, study, tmp_path, screenshot):
    window = AnalysisWindow()
    qtbot.addWidget(window)
    window.show()
    assert not window.report_button.isEnabled()  # nothing loaded yet
    with qtbot.waitSignal(window.open_folder(study).ended, timeout=30000):
        pass
    assert window.report_button.isEnabled()
    assert window.study_folder() == study
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    out = tmp_path / "report.html"
    job = window.make_report(PLAN, out)
    assert job is not None
    assert not window.report_button.isEnabled()  # one report at a time
    with qtbot.waitSignal(job.ended, timeout=120000):
        pass
    timer.stop()
    assert len(ticks) >= 5  # the GUI thread kept running while the report was made
    assert window.report_path == out and out.is_file()
    html = out.read_text()
    assert "Study report: Framing and affect in information seeking" in html
    assert "<caption>Results</caption>" in html
    assert window.report_label.text() == f"Report: {out}"
    assert window.report_button.isEnabled()
    screenshot(window, "analysis_report_button")


def test_a_plan_from_a_bundle_is_compared_with_its_registration(qtbot, study, tmp_path):
    bundle = tmp_path / "prereg"
    assert main(["preregister", str(PROTOCOL), "--plan", str(PLAN), "--out", str(bundle)]) == 0
    window = AnalysisWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.open_folder(study).ended, timeout=30000):
        pass
    out = tmp_path / "report.html"
    job = window.make_report(bundle / "study" / PLAN.name, out)
    with qtbot.waitSignal(job.ended, timeout=120000):
        pass
    assert window.report_bundle == bundle
    assert "compared with</td><td>the registration prereg (bundle hash" in out.read_text()


def test_report_button_needs_a_study_folder(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("ui.analysis.window.show_error", lambda *a, **k: shown.append(a[1]))
    window = AnalysisWindow()
    qtbot.addWidget(window)
    assert window.make_report(PLAN, tmp_path / "r.html") is None
    assert shown == ["No study folder"]


def test_the_report_renders_in_a_real_browser(study, tmp_path):
    pytest.importorskip("PySide6.QtWebEngineWidgets", reason="Qt WebEngine (PySide6-Addons)")
    report = tmp_path / "report.html"
    assert main(["report", str(study), "--plan", str(PLAN), "--out", str(report)]) == 0
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "study_report_browser.png"
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # Chromium refuses its sandbox as root, and offscreen there is no GPU.
    env["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox --disable-gpu"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.analysis.report_browser",
            str(report),
            "--screenshot",
            str(shot),
            "--height",
            "1600",
            "--scroll-to",
            "hypotheses",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, run.stdout + run.stderr
    page = json.loads(lines[-1])
    assert page["loaded"], page
    assert page["errors"] == [], page["errors"]
    html = report.read_text()
    assert len(page["images"]) == html.count("<img ") >= 6
    for img in page["images"]:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img
    assert page["title"] == "Study report: Framing and affect in information seeking"
    assert "Hypotheses" in page["headings"] and "Deviations" in page["headings"]
    assert run.returncode == 0
    assert page["screenshot_saved"] and shot.is_file()
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200)
    assert pixels.std() > 10  # text, tables and figures, not a blank page
