"""Widgets the windows share: style, form pieces, error dialogs, background jobs, live plots.

``style`` holds the colours and :func:`apply_style` (pyqtgraph's settings, set
once by a composition root); ``forms`` small builders (:func:`button`,
:func:`spin_box`, :func:`format_clock`); ``dialogs`` :func:`show_error`;
``worker`` runs slow calls off the GUI thread (:func:`run_in_background`);
``plots`` draws the live physiology and ``decision_log`` the decision points,
for the console and the lab view alike.
"""

from ui.widgets.decision_log import LOG_COLUMNS, DecisionLogModel
from ui.widgets.dialogs import show_error
from ui.widgets.forms import button, format_clock, int_spin_box, label, spin_box
from ui.widgets.plots import (
    BufferLike,
    LiveSignals,
    Readouts,
    SignalPlot,
    StateHistoryPlot,
    StreamTable,
)
from ui.widgets.style import KIND_COLOURS, OPERATOR_STYLE, STATE_COLOURS, apply_style
from ui.widgets.worker import Job, JobControl, run_in_background

__all__ = [
    "LOG_COLUMNS",
    "KIND_COLOURS",
    "OPERATOR_STYLE",
    "STATE_COLOURS",
    "BufferLike",
    "DecisionLogModel",
    "Job",
    "JobControl",
    "LiveSignals",
    "Readouts",
    "SignalPlot",
    "StateHistoryPlot",
    "StreamTable",
    "apply_style",
    "button",
    "format_clock",
    "int_spin_box",
    "label",
    "run_in_background",
    "show_error",
    "spin_box",
]
