"""The analyst's windows: the analysis view, the sample-size dialog, the report in a browser.

``window`` is the :class:`AnalysisWindow` (an export's analysis, picked from its
codebook, run off the GUI thread, saved); ``sample_size`` the
:class:`SampleSizeDialog` (closed form, and ``power_simulation``'s
:class:`SimulationTab` with ``effects_form``'s boxes); ``report_browser`` opens
an HTML report in Qt WebEngine and checks that it rendered (run as
``python -m ui.analysis.report_browser``).
"""

from ui.analysis.effects_form import OutcomeBox
from ui.analysis.power_simulation import SimulationTab, power_plot
from ui.analysis.sample_size import SampleSizeDialog
from ui.analysis.window import METHODS, AnalysisWindow

__all__ = [
    "METHODS",
    "AnalysisWindow",
    "OutcomeBox",
    "SampleSizeDialog",
    "SimulationTab",
    "power_plot",
]
