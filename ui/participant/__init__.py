"""The participant's screen: instructions, calibration, the information system's tasks, breaks.

``window`` is the full-screen :class:`ParticipantWindow` (one page at a time);
``task_view`` shows one task, ``features`` the information system's
instrumented tools, ``calibration`` the rest and the arithmetic stressor,
``pages`` messages and breaks, ``countdown`` the timed screens' base. It is told
what to show (display records, :mod:`labmrt.session.display`) and reports what
the participant did; it never learns an arm, a probability or a state.
"""

from labmrt.session.display import FeatureSpec, TaskDisplay
from ui.participant.calibration import RestScreen, StressorScreen, make_problem
from ui.participant.countdown import CountdownScreen
from ui.participant.features import (
    WIDGETS,
    CalculatorWidget,
    ComparisonTableWidget,
    FeatureWidget,
    GenericFeatureWidget,
    HelpPanel,
    HintWidget,
    NotesWidget,
    evaluate,
    format_number,
    make_feature,
)
from ui.participant.pages import BreakScreen, MessageScreen
from ui.participant.task_view import TaskView
from ui.participant.window import PARTICIPANT_STYLE, ParticipantWindow

__all__ = [
    "PARTICIPANT_STYLE",
    "WIDGETS",
    "BreakScreen",
    "CalculatorWidget",
    "ComparisonTableWidget",
    "CountdownScreen",
    "FeatureSpec",
    "FeatureWidget",
    "GenericFeatureWidget",
    "HelpPanel",
    "HintWidget",
    "MessageScreen",
    "NotesWidget",
    "ParticipantWindow",
    "RestScreen",
    "StressorScreen",
    "TaskDisplay",
    "TaskView",
    "evaluate",
    "format_number",
    "make_feature",
    "make_problem",
]
