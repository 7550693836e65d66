"""Signal windows -> features and their quality, one update at a time; no threads, no LSL.

Depends on :mod:`sensors.kinds` only (and NumPy, SciPy, NeuroKit2). Beats
(:mod:`~sensors.signals.beats`), heart-rate variability
(:mod:`~sensors.signals.hrv`), skin conductance (:mod:`~sensors.signals.eda`),
beat-level sources (:mod:`~sensors.signals.intervals`) and signal quality
(:mod:`~sensors.signals.quality`) come together in
:class:`~sensors.signals.pipeline.FeaturePipeline`, which the live monitor
and every offline run call the same way.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "beats": ["Beats", "clean_intervals", "correct_beats", "detect_beats", "drop_extra_beats"],
        "eda": ["EDA_FEATURES", "EDA_WINDOW_S", "eda_window"],
        "hrv": [
            "HF_MIN_S",
            "HRV_FEATURES",
            "HRV_WINDOW_S",
            "LF_MIN_S",
            "hrv_from_beats",
            "hrv_window",
        ],
        "intervals": ["beats_from_intervals", "hr_feature", "ibi_features"],
        "pipeline": [
            "FEATURE_NAMES",
            "FeaturePipeline",
            "UpdateResult",
            "as_frame",
            "offline_updates",
        ],
        "quality": ["signal_quality"],
        "tracking": ["SCL_AHEAD_S", "SCL_FLOOR_S", "BeatTracker", "LevelAhead", "RecentFloor"],
    },
)
