"""PySide6 desktop app. The only package that imports Qt.

One subpackage per audience, each with a face (``__init__`` with ``__all__``):
``widgets`` (shared by all windows), ``participant`` (the participant's
screen), ``session`` (a running session behind the windows), ``console`` (the
experimenter's), ``analysis`` (the analyst's), ``lab`` (a lab of stations),
``display`` (can a window open here; no Qt) and ``app`` (the desktop app's
composition root). Imports flow one way: widgets < participant < session <
console, lab; analysis uses widgets only; app wires them all.
"""

# Marks this package as labmrt's own (see labmrt.own_packages).
__labmrt_package__ = True
