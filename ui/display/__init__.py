"""Can a window open here? Asked before Qt is loaded, so this package imports no Qt.

``probe`` says whether there is a display at all (:func:`display_available`)
and whether Qt's platform plugin loads on it, asked in a child process
(:func:`probe_platform`), naming the system libraries it lacks.
"""

from ui.display.probe import (
    HEADLESS_PLATFORMS,
    PlatformProbe,
    debian_package,
    display_available,
    missing_libraries,
    plugin_file,
    probe_platform,
    requested_platform,
    unreachable_display,
)

__all__ = [
    "HEADLESS_PLATFORMS",
    "PlatformProbe",
    "debian_package",
    "display_available",
    "missing_libraries",
    "plugin_file",
    "probe_platform",
    "requested_platform",
    "unreachable_display",
]
