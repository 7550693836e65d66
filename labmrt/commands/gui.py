"""``labmrt gui``: the desktop app (experimenter console, participant screen, analysis view).

Also what ``labmrt`` with no subcommand opens. Qt is imported inside the
handler only, so the rest of the CLI never loads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labmrt.errors import LabmrtError, Problem

EPILOG = """\
examples:
  labmrt gui
  labmrt gui --study studies/framing --protocol protocols/framing_affect.toml
  labmrt gui --analysis studies/framing/export
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the desktop app (console, participant screen, analysis view)",
        description="Open the desktop app: the experimenter console, the participant screen "
        "(full screen on a second monitor) and the analysis view. `labmrt` with no "
        "subcommand opens it too.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--study", metavar="DIR", help="study folder to use")
    parser.add_argument("--protocol", metavar="FILE", help="protocol file to load")
    parser.add_argument("--participant", metavar="CODE", default="", help="participant code")
    parser.add_argument(
        "--simulated-sensors", action="store_true", help="start simulated ECG/EDA sensors"
    )
    parser.add_argument("--analysis", metavar="DIR", help="open the analysis view on a folder")
    parser.set_defaults(handler=_gui)


def require_display() -> None:
    from ui.display import display_available

    if not display_available():
        raise LabmrtError(
            Problem(
                "display",
                "no display to open the desktop app on (DISPLAY is not set)",
                "run it on a desktop session; the terminal commands are listed by labmrt --help",
            )
        )


def platform_problem() -> str | None:
    """Why Qt could not open its windows here (asked in a child process first), or None.

    Qt aborts the process when its platform plugin cannot load (on Linux: the
    xcb plugin lacking system XCB libraries), so the app is never started blind.
    """
    from ui.display import probe_platform

    probe = probe_platform()
    return None if probe.ok else probe.advice()


def interactive_display() -> bool:
    """A screen a person can see: a display server, or a real (not offscreen) Qt platform."""
    import os

    from ui.display import display_available

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.split(":")[0] in ("offscreen", "minimal"):
        return False
    return display_available()


def demo_settings(protocol: Path, out: Path) -> dict:
    """What ``labmrt demo`` opens the app with: bundled protocol, simulated sensors, study folder."""
    return dict(
        study_dir=out,
        protocol=protocol,
        participant="D01",
        simulate_sensors=True,
    )


def open_demo(protocol: Path, out: Path) -> int | None:
    """Open the app ready to run the demo; None (and a message) when nobody could see it."""
    import sys

    if not interactive_display():
        print(
            "labmrt demo: no display here, so the desktop app cannot open; running the "
            "headless demo instead (pass --headless to skip this message).",
            file=sys.stderr,
        )
        return None
    problem = platform_problem()
    if problem is not None:
        print(
            f"labmrt demo: the desktop app cannot open on this display.\n{problem}\n"
            "Running the headless demo instead (pass --headless to skip this check).",
            file=sys.stderr,
        )
        return None
    from ui.app import run_app

    out.mkdir(parents=True, exist_ok=True)
    print(f"labmrt demo: study folder {out}; press F5 in the console to start the session.")
    return run_app(**demo_settings(protocol, out))


def _gui(args: argparse.Namespace) -> int:
    require_display()
    if interactive_display():
        problem = platform_problem()
        if problem is not None:
            raise LabmrtError(
                Problem(
                    "display",
                    f"the desktop app cannot open on this display. {problem}",
                    "`labmrt demo --headless` and the terminal commands work without it",
                )
            )
    from ui.app import run_app

    return run_app(
        study_dir=Path(args.study) if args.study else None,
        protocol=Path(args.protocol) if args.protocol else None,
        participant=args.participant,
        simulate_sensors=args.simulated_sensors,
        analysis_folder=Path(args.analysis) if args.analysis else None,
    )
