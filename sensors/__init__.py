"""Physiological sensing: LSL acquisition, simulated LSL sources, HRV/EDA features,
and the affective-state classifier that feeds the session engine as a moderator.
"""

# Marks this package as labmrt's own (see labmrt.own_packages).
__labmrt_package__ = True
