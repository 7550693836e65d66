"""Make the README's screenshots of the study report, rendered by Qt WebEngine.

The flow the README describes, one command each: `labmrt power --json`,
`labmrt preregister` (protocol + plan + sample size), `labmrt simulate` (24
participants), one more session run with a changed randomization table
(`labmrt run --simulated`), then `labmrt report --bundle`; the report is
opened in Chromium (`ui.analysis.report_browser`) and two parts are saved. About 20 s.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_report_screenshots.py
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from labmrt.cli import main as labmrt  # noqa: E402

PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"


def run(*args: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = labmrt(list(args))
    if code != 0:
        raise SystemExit(f"labmrt {' '.join(args)} failed with {code}")
    return buf.getvalue()


def shoot(report: Path, name: str, height: int, anchor: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.analysis.report_browser",
            str(report),
            "--screenshot",
            str(OUT / name),
            "--height",
            str(height),
            "--scroll-to",
            anchor,
        ],  # fmt: skip
        check=True,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        power = run("power", "--sessions", "1", "--per-session", "30", "--prob", "0.25",
                    "--availability-shape", "constant", "--availability-mean", "0.9",
                    "--effect-shape", "constant", "--effect-mean", "0.3", "--json")  # fmt: skip
        (tmp / "power.json").write_text(power)
        run("preregister", str(PROTOCOL), "--plan", str(PLAN), "--power", str(tmp / "power.json"),
            "--out", str(tmp / "prereg"))  # fmt: skip
        run("simulate", str(PROTOCOL), "--participants", "24", "--seed", "1", "--out",
            str(tmp / "study"))  # fmt: skip
        changed = tmp / "changed"
        changed.mkdir()
        shutil.copy(ROOT / "protocols" / "framing_affect_tasks.csv", changed)
        text = PROTOCOL.read_text().replace("neutral = 0.5\n", "neutral = 0.6\n")
        text = text.replace("gain = 0.25\nloss = 0.25\n", "gain = 0.2\nloss = 0.2\n")
        (changed / "framing_affect.toml").write_text(text)
        run("run", str(changed / "framing_affect.toml"), "--study", str(tmp / "study"),
            "--participant", "P099", "--simulated")  # fmt: skip
        report = tmp / "report.html"
        run("report", str(tmp / "study"), "--plan", str(tmp / "prereg" / "study" / PLAN.name),
            "--bundle", str(tmp / "prereg"), "--out", str(report))  # fmt: skip
        shoot(report, "study_report.png", 1500, "hypotheses")
        shoot(report, "study_report_deviations.png", 1000, "robustness-as-pre-registered")
        shutil.copy(tmp / "prereg" / "preregistration.html", tmp / "p.html")
        shoot(tmp / "p.html", "preregistration.png", 1300, "design")
    print(f"saved into {OUT}")


if __name__ == "__main__":
    main()
