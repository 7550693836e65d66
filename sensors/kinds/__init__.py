"""What a signal is, for every stage: its kind, its unit, and a window of its samples.

numpy only (no pylsl, no NeuroKit2), so every stage of ``sensors`` may
import it: the kind words (:mod:`~sensors.kinds.names`), each kind's unit
and the conversions into it (:mod:`~sensors.kinds.units`), and
:class:`~sensors.kinds.window.SignalWindow`.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "names": ["KINDS", "SOURCE_KINDS", "kind_of", "label_words"],
        "units": [
            "DEVICES",
            "RAW_UNITS",
            "TARGET_UNITS",
            "Conversion",
            "UnitError",
            "conversion_for",
            "device_family",
        ],
        "window": ["SignalWindow", "Span"],
    },
)
