"""PySide6 desktop app. The only package that imports Qt."""

# Marks this package as labmrt's own (see labmrt.own_packages).
__labmrt_package__ = True
