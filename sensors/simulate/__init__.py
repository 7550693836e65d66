"""A simulated participant with a known arousal script, offline or as real LSL outlets.

Depends on :mod:`sensors.kinds` only (and NeuroKit2, pylsl). The script
(:class:`~sensors.simulate.schedule.ArousalSchedule`) is the truth a
simulation is checked against; :mod:`~sensors.simulate.synth` turns it into
ECG, PPG and skin conductance, :func:`~sensors.simulate.offline.generate_recording`
at once, :class:`~sensors.simulate.outlets.SimulatedSensors` as LSL outlets in
real time, :class:`~sensors.simulate.layouts.LayoutSensors` in the channel
layouts of real devices, and :class:`~sensors.simulate.process.SimulatorProcess`
in a child process for the demo.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "layouts": ["LAYOUTS", "LayoutSensors"],
        "offline": ["SimulatedRecording", "generate_recording"],
        "outlets": ["SimulatedSensors"],
        "phases": [
            "DEMO_AROUSED_S",
            "DEMO_CALM_S",
            "DEMO_HEART_RATE",
            "PhaseFollowingSchedule",
            "calibration_schedule",
        ],
        "process": ["SimulatorProcess"],
        "schedule": ["SIM_STATES", "ArousalSchedule"],
        "synth": ["Physiology", "SignalSynth", "SimulationParams"],
    },
)
