"""Look shared by the operator's windows: pyqtgraph colours and a light stylesheet."""

from __future__ import annotations

import pyqtgraph as pg

pg.setConfigOptions(antialias=False, background="w", foreground="#333")

STATE_COLOURS = {"calm": "#2e7d32", "aroused": "#c62828", "unknown": "#757575"}
KIND_COLOURS = {"ecg": "#1565c0", "ppg": "#6a1b9a", "eda": "#ef6c00"}

OPERATOR_STYLE = """
QGroupBox { font-weight: 600; }
#warning_banner { background: #fff3e0; color: #8a4b00; border: 1px solid #ffb74d;
                  border-radius: 4px; padding: 6px; font-weight: 600; }
#problems_label { color: #b3261e; }
#progress_label { font-size: 15px; font-weight: 600; }
#phase_label { font-size: 15px; }
"""
