"""Recorded signals through the live pipeline and classifier, and scored against known states.

Depends on :mod:`sensors.kinds`, :mod:`sensors.acquire`, :mod:`sensors.signals`
and :mod:`sensors.state`. Files are read by :mod:`~sensors.replay.files`,
spans named by :mod:`~sensors.replay.spans`, replayed by
:func:`~sensors.replay.run.replay_recording` and scored by
:func:`~sensors.replay.scoring.score` (``labmrt sensors replay``); or played back as live
LSL streams by :class:`~sensors.replay.player.Player` (``labmrt sensors play``).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "files": [
            "Recording",
            "SignalSpec",
            "column_conversion",
            "load_csv_signals",
            "load_xdf",
            "parse_signal_spec",
            "rate_from_times",
            "read_signal_csv",
            "xdf_description",
        ],
        "player": [
            "Playable",
            "PlayStream",
            "Player",
            "csv_streams",
            "describe",
            "load_xdf_streams",
        ],
        "run": ["ReplayResult", "replay_recording"],
        "scoring": ["Score", "Segment", "read_segments", "score"],
        "spans": ["marker_span", "parse_span", "resolve_span"],
    },
)
