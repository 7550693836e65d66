"""The affective state: a calm/aroused classifier calibrated per participant, and the monitor.

Depends on :mod:`sensors.kinds`, :mod:`sensors.acquire` and
:mod:`sensors.signals`. :class:`~sensors.state.classifier.AffectClassifier`
is fitted on the calibration phases (:mod:`~sensors.state.calibration`) or
trained offline (:mod:`~sensors.state.train`);
:class:`~sensors.state.monitor.AffectMonitor` runs buffers -> features ->
classifier once a second and is the session engine's state source
(:mod:`~sensors.state.source`).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "calibration": [
            "PHASES",
            "CalibrationPhase",
            "calibration_needs",
            "calibration_problems",
            "fit_rows",
        ],
        "classifier": [
            "AUC_MIN",
            "MIN_WINDOWS",
            "NOT_SEPARATED_CHOICES",
            "REST_THRESHOLD",
            "AffectClassifier",
            "Prediction",
        ],
        "feature_sets": [
            "AROUSAL_SIGN",
            "DEFAULT_FEATURES",
            "FEATURE_SETS",
            "LEVEL_FEATURES",
            "LIVE_FEATURES",
            "RESPONSIVE_FEATURES",
        ],
        "labels": ["label_code"],
        "monitor": ["AffectMonitor"],
        "source": ["MonitorStateSource", "monitor_for_protocol"],
        "summary": ["describe_calibration", "summarize_calibration"],
        "train": ["read_feature_table", "train_from_csv", "train_from_table"],
    },
)
