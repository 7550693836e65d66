"""Make sure the ``sensors`` and ``ui`` that Python imports are labmrt's own.

labmrt ships three top-level packages, ``labmrt``, ``sensors`` and ``ui``. The
last two are generic names that other distributions use as well (PySensors
installs a top-level ``sensors``). Installed into the same environment, one of
them shadows or overwrites the other, and the failure would surface later as an
``AttributeError`` deep inside a session. Instead, :func:`check_own_packages`
runs when the command line starts and stops with a message naming the
distribution that clashes and how to get out of it.

Why a check rather than installing them as ``labmrt.sensors`` / ``labmrt.ui``
through setuptools' package-dir mapping: the folders are fixed by the product's
layout (``sensors/`` and ``ui/`` beside ``labmrt/``), imports stay short
(``from sensors.acquire import StreamBuffer``), and a mapped ``labmrt.sensors`` exists
only through an installer's import hook: run from the source folder without it
(``PYTHONPATH=.``, a ``compat``-mode editable install), ``import labmrt`` finds
the real ``labmrt/`` folder, which has no ``sensors`` subfolder.

Each package of labmrt says so with ``__labmrt_package__ = True`` in its
``__init__``, and must sit in the same folder as the imported ``labmrt``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from labmrt.errors import LabmrtError, Problem

OWN_TOP_LEVEL = ("sensors", "ui")


def _other_distributions(name: str) -> list[str]:
    """Installed distributions other than labmrt that provide top-level package ``name``."""
    from importlib import metadata  # only on the error path: it costs tens of ms to import

    try:
        providers = metadata.packages_distributions().get(name, [])
    except Exception:  # noqa: BLE001 - a broken dist-info must not hide the real message
        providers = []
    return sorted({d for d in providers if d.lower() != "labmrt"})


def _problem(name: str, found: str, why: str) -> Problem:
    others = _other_distributions(name)
    if others:
        source = "installed by " + ", ".join(others)
        remedy = (
            f"'{name}' is also the name of a package of {', '.join(others)}: run labmrt from "
            "its own virtual environment (python -m venv .venv && .venv/bin/pip install -e "
            f"PATH_TO_LABMRT), or pip uninstall {others[0]} from this one"
        )
    else:
        source = "not from any installed distribution (a folder on sys.path?)"
        remedy = (
            f"rename or move the other '{name}' folder, or run labmrt from its own virtual "
            "environment (python -m venv .venv && .venv/bin/pip install -e PATH_TO_LABMRT)"
        )
    return Problem(
        f"package '{name}'",
        f"Python imports a '{name}' that is not labmrt's ({why}): {found}, {source}",
        remedy,
    )


def check_own_packages(names: tuple[str, ...] = OWN_TOP_LEVEL) -> None:
    """Raise a LabmrtError when an imported ``sensors``/``ui`` is another distribution's."""
    import labmrt

    home = Path(labmrt.__file__).resolve().parent.parent
    problems = []
    for name in names:
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except ImportError as err:
            problems.append(
                Problem(
                    f"package '{name}'",
                    f"cannot be imported ({err})",
                    "reinstall labmrt: pip install -e PATH_TO_LABMRT",
                )
            )
            continue
        where = getattr(module, "__file__", None)
        found = str(Path(where).resolve().parent) if where else "a namespace package"
        if not getattr(module, "__labmrt_package__", False):
            problems.append(_problem(name, found, "it lacks labmrt's package marker"))
        elif not where or Path(where).resolve().parent.parent != home:
            problems.append(_problem(name, found, f"it is not next to labmrt in {home}"))
    if problems:
        raise LabmrtError(problems)
