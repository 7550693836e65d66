"""liblsl's own messages: at a chosen level, to the terminal or a file, the lab's settings kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labmrt import lsl_log

SNIPPET = """
import sys
from labmrt.lsl_log import route_lsl_log
route_lsl_log(sys.argv[1], sys.argv[2] or None)
import pylsl
outlet = pylsl.StreamOutlet(pylsl.StreamInfo("labmrt-log-test", "Markers", 1, 0, "string"))
pylsl.resolve_streams(0.5)
"""


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """A lab configuration of its own and a cache folder, both in tmp_path."""
    lab = tmp_path / "lab.cfg"
    lab.write_text(f"[lab]\nSessionID = {os.environ.get('LSLAPICFG', 'x')}-log-test\n")
    monkeypatch.setenv("LSLAPICFG", str(lab))
    monkeypatch.delenv(lsl_log.SOURCE_ENV, raising=False)
    monkeypatch.delenv(lsl_log.LEVEL_ENV, raising=False)
    monkeypatch.setattr(lsl_log, "_cache_dir", lambda: tmp_path / "cache")
    return lab


def test_the_labs_configuration_is_kept_and_a_log_section_added(isolated, tmp_path):
    derived = lsl_log.route_lsl_log("warning", tmp_path / "lsl.log")
    assert os.environ["LSLAPICFG"] == str(derived)
    text = derived.read_text()
    assert isolated.read_text().strip() in text  # the session id: streams stay in their lab
    assert f"[log]\nlevel = -1\nfile = {tmp_path / 'lsl.log'}" in text
    # asked again (a level for the terminal), it derives from the lab's file, not its own
    again = lsl_log.route_lsl_log("error")
    assert "level = -2" in again.read_text() and "file =" not in again.read_text()
    assert lsl_log.config_in_effect() == isolated


def test_a_configuration_with_its_own_log_section_is_left_alone(isolated):
    isolated.write_text(isolated.read_text() + "[log]\nlevel = 0\n")
    assert lsl_log.route_lsl_log("warning") is None
    assert os.environ["LSLAPICFG"] == str(isolated)
    with pytest.raises(ValueError, match="unknown liblsl log level"):
        lsl_log.route_lsl_log("loud")


def run(level: str, file: str = "") -> str:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, level, file], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_liblsl_says_less_at_warning_and_writes_to_the_file(isolated, tmp_path):
    assert "INFO|" in run("info")
    assert "INFO|" not in run("warning")
    log = tmp_path / "lsl.log"
    terminal = [line for line in run("info", str(log)).splitlines() if "INFO|" in line]
    assert len(terminal) == 1 and "Logging to" in terminal[0]  # loguru names the file, once
    assert log.read_text().count("INFO|") > 1
