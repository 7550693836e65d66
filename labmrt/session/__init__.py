"""Running one participant's session: decision points, randomization, outcomes, signals.

``engine`` is the :class:`SessionEngine` that walks the protocol's tasks;
``randomizer`` draws the arm, ``outcomes`` computes proximal outcomes from
feature-use events, ``clock`` gives the time base (LSL, virtual, scaled),
``events`` the signals the engine announces, ``markers`` the LSL marker stream.
It writes to a :class:`labmrt.store.StudyStore` handed to it, and reads the
affective state through :class:`labmrt.state.StateSource`.
"""

from labmrt.session.engine import Presenter, SessionEngine, close_interrupted

__all__ = ["Presenter", "SessionEngine", "close_interrupted"]
