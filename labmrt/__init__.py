"""labmrt: in-lab micro-randomized trials, from protocol to causal excursion effects.

The domain core lives here and never imports Qt, so that every piece of the
study logic can run headless (CLI, tests, simulated studies) and the desktop
app stays a thin layer on top.
"""

__version__ = "0.1.0"
