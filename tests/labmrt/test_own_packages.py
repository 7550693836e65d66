"""A foreign top-level `sensors` or `ui` (PySensors, ...) is named at start-up, not hit later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import labmrt

RUN = "import sys; from labmrt.cli import main; sys.exit(main(['sessions', '--help']))"


def _fake_distribution(site: Path, dist: str, package: str, *, marker: bool = False) -> Path:
    """A package folder plus the dist-info that names its distribution, as pip leaves them."""
    folder = site / package
    folder.mkdir(parents=True)
    text = '"""Someone else\'s package."""\n'
    if marker:
        text += "__labmrt_package__ = True\n"
    (folder / "__init__.py").write_text(text)
    info = site / f"{dist}-0.4.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.4.1\n")
    (info / "top_level.txt").write_text(f"{package}\n")
    (info / "RECORD").write_text(f"{package}/__init__.py,,\n")
    return folder


def _run(cwd: Path, pythonpath: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-c", RUN], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_labmrt_own_packages_pass(tmp_path):
    out = _run(tmp_path, None)
    assert out.returncode == 0, out.stderr
    assert "usage: labmrt sessions" in out.stdout


def test_a_clashing_distribution_is_named_with_the_way_out(tmp_path):
    site = tmp_path / "site"
    foreign = _fake_distribution(site, "PySensors", "sensors")
    out = _run(tmp_path, site)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert (
        f"package 'sensors': Python imports a 'sensors' that is not labmrt's (it lacks labmrt's "
        f"package marker): {foreign}, installed by PySensors"
    ) in out.stderr
    assert "run labmrt from its own virtual environment" in out.stderr
    assert "pip uninstall PySensors" in out.stderr
    assert "package 'ui'" not in out.stderr  # labmrt's own ui is still found


def test_a_marked_package_in_the_wrong_place_is_refused_too(tmp_path):
    """The marker alone is not enough: labmrt's packages sit next to labmrt."""
    site = tmp_path / "site"
    (site / "ui").mkdir(parents=True)
    (site / "ui" / "__init__.py").write_text("__labmrt_package__ = True\n")
    out = _run(tmp_path, site)
    assert out.returncode == 2
    home = Path(labmrt.__file__).resolve().parent.parent
    assert f"(it is not next to labmrt in {home}): {site / 'ui'}" in out.stderr
    assert "not from any installed distribution (a folder on sys.path?)" in out.stderr
