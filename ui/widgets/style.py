"""Look shared by the operator's windows: pyqtgraph colours and a light stylesheet.

pyqtgraph keeps its colours in process-wide settings that a plot reads when it
is created, so :func:`apply_style` sets them once, before the first window is
built: the composition roots (:mod:`ui.app`, :func:`ui.lab.run_lab_window`)
call it. Importing this module changes nothing.
"""

from __future__ import annotations

import pyqtgraph as pg

#: One colour per affective state, the same in every window.
STATE_COLOURS = {"calm": "#2e7d32", "aroused": "#c62828", "unknown": "#757575"}
#: One colour per signal kind, the same in every plot.
KIND_COLOURS = {"ecg": "#1565c0", "ppg": "#6a1b9a", "eda": "#ef6c00"}

#: pyqtgraph's settings for every plot of the app: white ground, dark axes, no antialiasing
#: (the live signals redraw 20 times a second on the GUI thread).
PLOT_OPTIONS = {"antialias": False, "background": "w", "foreground": "#333"}

#: The style sheet of the experimenter's and the analyst's windows.
#:
#: :meta hide-value:
OPERATOR_STYLE = """
QGroupBox { font-weight: 600; }
#warning_banner { background: #fff3e0; color: #8a4b00; border: 1px solid #ffb74d;
                  border-radius: 4px; padding: 6px; font-weight: 600; }
#problems_label { color: #b3261e; }
#progress_label { font-size: 15px; font-weight: 600; }
#phase_label { font-size: 15px; }
"""


def apply_style() -> None:
    """Set pyqtgraph's colours for the plots created from now on (idempotent)."""
    pg.setConfigOptions(**PLOT_OPTIONS)
