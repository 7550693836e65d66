"""The features the affective state is classified from, and what physiology says of each.

The live monitor uses :data:`LIVE_FEATURES`: heart rate from the clean
beats of the last 15 s, the tonic skin-conductance level of the last 10 s
carried 30 s ahead along its fall (``scl_ahead``,
:class:`sensors.signals.tracking.LevelAhead`: the level recovers for minutes after
arousal ends) and the SCR rate, the features that survive wrist artefacts and follow a
change within seconds (RMSSD/SDNN need a minute of clean beats and are the
first casualties of a moving wrist). Offline models keep
:data:`DEFAULT_FEATURES`. :data:`RESPONSIVE_FEATURES` swap the tonic level
for its rise above the lowest level of the last two minutes
(:class:`sensors.signals.tracking.RecentFloor`): a state that comes back to calm
within seconds of the skin conductance levelling off, for studies whose
states alternate within minutes, at the price of calling a stressor calm
once its level has plateaued for two minutes (the protocol's
``[sensors] state_features`` chooses; the validation page gives both sets' figures
on real recordings and on the simulator).

:data:`AROUSAL_SIGN` is the direction arousal moves each feature (heart
rate, skin-conductance level and SCR rate go up, RMSSD/SDNN/HF go down;
Kreibig 2010, Biol Psychol 84:394). Features fall in two groups by the
signal they come from (:data:`FEATURE_KIND`), so a model can do without one
group when its signal is not clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: The features of offline models.
DEFAULT_FEATURES: tuple[str, ...] = ("hr", "rmssd", "sdnn", "scl", "scr_rate")
#: The features of the live monitor (``sustained``): they survive wrist artefacts and
#: follow a change within seconds.
LIVE_FEATURES: tuple[str, ...] = ("hr_fast", "scl_ahead", "scr_rate")
#: the earlier live set: the tonic level as it is (kept for comparison in bench/)
LEVEL_FEATURES: tuple[str, ...] = ("hr_fast", "scl_fast", "scr_rate")
#: The live set that follows the rise of the tonic level above its recent floor (``responsive``).
RESPONSIVE_FEATURES: tuple[str, ...] = ("hr_fast", "scl_rise", "scr_rate")
#: the live feature sets a protocol chooses from ([sensors] state_features)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "sustained": LIVE_FEATURES,
    "responsive": RESPONSIVE_FEATURES,
}
#: The direction arousal moves each feature: +1 up, -1 down (Kreibig 2010).
AROUSAL_SIGN: dict[str, int] = {
    "hr": 1,
    "hr_fast": 1,
    "scl_fast": 1,
    "scl_rise": 1,
    "scl_ahead": 1,
    "rmssd": -1,
    "sdnn": -1,
    "hf": -1,
    "lf": -1,
    "lf_hf": 1,
    "scl": 1,
    "scr_rate": 1,
    "scr_amp": 1,
}
#: The signal group a feature comes from (``cardiac`` or ``eda``).
FEATURE_KIND: dict[str, str] = {
    **dict.fromkeys(("hr", "rmssd", "sdnn", "hf", "lf", "lf_hf", "hr_fast"), "cardiac"),
    **dict.fromkeys(("scl", "scr_rate", "scr_amp", "scl_fast", "scl_rise", "scl_ahead"), "eda"),
}
# window length (s) of each feature as the pipeline computes it: neighbouring
# calibration windows closer than this share signal (the purge of blocked CV)
FEATURE_WINDOW_S: dict[str, float] = {
    **dict.fromkeys(("hr", "rmssd", "sdnn", "hf"), 60.0),
    **dict.fromkeys(("lf", "lf_hf"), 120.0),
    **dict.fromkeys(("scl", "scr_rate", "scr_amp"), 30.0),
    "hr_fast": 15.0,
    "scl_fast": 10.0,
    "scl_rise": 10.0,
    "scl_ahead": 40.0,  # 30 s of levels, the oldest over its own 10 s
}
# stream kinds whose quality speaks for the cardiac features (waveforms, intervals, heart rate)
CARDIAC_SOURCES: tuple[str, ...] = ("ecg", "ppg", "ibi", "hr")


def feature_groups(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({FEATURE_KIND.get(n, "other") for n in names}))


def group_feature_sets(names: Sequence[str]) -> list[tuple[str, ...]]:
    """All features, then each group's alone when there is more than one group."""
    groups = feature_groups(names)
    sets = [tuple(names)]
    if len(groups) > 1:
        sets += [tuple(n for n in names if FEATURE_KIND.get(n) == g) for g in groups]
    return sets
