"""Physiological sensing: LSL acquisition, simulated LSL sources, HRV/EDA features,
and the affective-state classifier that feeds the session engine as a moderator.

One subpackage per stage, each importing only the stages before it
(``tests/test_layering.py`` checks it, function-level imports included):

* :mod:`sensors.kinds`: the signal kinds, their units, and the window of
  samples the stages hand each other (numpy only);
* :mod:`sensors.acquire`: LSL streams found, their channels chosen, buffered
  and recorded (kinds);
* :mod:`sensors.signals`: windows -> HRV, skin-conductance and quality
  features, one update at a time (NumPy, SciPy, NeuroKit2; kinds);
* :mod:`sensors.simulate`: a simulated body with a known arousal script,
  offline or as real LSL outlets (kinds);
* :mod:`sensors.state`: the calm/aroused classifier, its calibration and the
  live monitor (kinds, acquire, signals);
* :mod:`sensors.replay`: recorded files through the live pipeline and
  classifier, and scored (kinds, acquire, signals, state);
* :mod:`sensors.live`: the whole chain on simulated sensors (every stage).

Each subpackage's ``__init__`` is its public face: code outside it imports
the names in its ``__all__`` from there. The faces load a name's module on
first use (``lazy_loader``, as MNE-Python and scikit-image do), so that
``from sensors.simulate import ArousalSchedule`` does not import NeuroKit2
(seconds) and ``import sensors`` stays free for the command line's start.
"""

# Marks this package as labmrt's own (see labmrt.own_packages).
__labmrt_package__ = True
