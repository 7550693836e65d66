"""Guard against Qt bindings that leak references on signal emission.

PySide6 6.12.0 drops a reference to ``True`` on every emission to a Python
slot; under Python 3.11 (bools are not immortal) the interpreter aborts after
a few thousand emissions, i.e. minutes into a session with live plots.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object)


def test_signal_emission_keeps_reference_counts_of_bools(qtbot):
    emitter = _Emitter()
    seen = []
    emitter.fired.connect(seen.append)
    before_true, before_false = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2000):
        emitter.fired.emit(i)
    assert len(seen) == 2000
    # Other code may hold a few more or fewer bools meanwhile; a leak shows as -2000.
    assert abs(sys.getrefcount(True) - before_true) < 50
    assert abs(sys.getrefcount(False) - before_false) < 50
