"""The CLI shell: version, help, and user errors without tracebacks."""

import subprocess
import sys

from labmrt import __version__
from labmrt.cli import main
from labmrt.errors import LabmrtError, Problem


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_problem_format_has_where_what_fix():
    err = LabmrtError([Problem("f.toml: arms[0].id", "is empty", "give the arm an id")])
    assert err.message == "f.toml: arms[0].id: is empty (give the arm an id)"


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "labmrt.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "labmrt" in out.stdout
