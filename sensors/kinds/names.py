"""The signal kinds every stage of ``sensors`` reasons about, and how a label names one.

Vendors label their streams inconsistently: an EDA stream may be typed
``EDA``, ``GSR`` or a vendor word, with the modality only in the name
(``"Shimmer GSR"``, ``"E4 BVP"``). A label is therefore read word by word and
normalised to one of five kinds: waveforms ``ecg``, ``ppg``, ``eda``, and the
beat-level cardiac sources ``ibi`` (beat-to-beat intervals, an irregular RR
stream) and ``hr`` (heart rate only). Stream discovery, channel selection, the
signal-quality checks and the replay of CSV columns all read labels this way,
so the words live here, without ``pylsl``.
"""

from __future__ import annotations

import re

#: The waveform kinds: ECG, PPG (pulse) and EDA (skin conductance).
KINDS: tuple[str, ...] = ("ecg", "ppg", "eda")
#: Every kind a source may carry: the waveforms and the beat-level ``ibi`` and ``hr``.
SOURCE_KINDS: tuple[str, ...] = (*KINDS, "ibi", "hr")

# Words that identify a modality, as seen in stream types and names of common
# LSL apps (BrainProducts, Shimmer, Empatica E4 bridges, BITalino/OpenSignals,
# Polar H10 bridges). Matched as whole tokens, case-insensitive.
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    # beat-level sources first: "pulse rate" is a heart rate, not a PPG
    "ibi": ("ibi", "ibis", "rr", "rri", "nn", "interbeat", "rrinterval", "rrintervals"),
    "hr": ("hr", "bpm", "heartrate", "pulserate"),
    "ecg": ("ecg", "ekg", "electrocardiogram", "electrocardiography"),
    "ppg": ("ppg", "bvp", "pulse", "photoplethysmogram", "photoplethysmography", "pleth"),
    "eda": ("eda", "gsr", "scr", "scl", "electrodermal", "skinconductance", "skin_conductance"),
}

_GLUABLE = {
    "ecg",
    "ekg",
    "ppg",
    "bvp",
    "gsr",
    "electrodermal",
    "skinconductance",
    "heartrate",
    "pulserate",
    "interbeat",
}


def label_words(text: str) -> set[str]:
    """Words of a label, splitting on punctuation, digits and camel case ("ShimmerEDA01")."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", text)
    return {w.lower() for w in words}


def kind_of(stream_type: str, name: str = "") -> str | None:
    """The normalised kind (``ecg``/``ppg``/``eda``/``ibi``/``hr``) of a stream, or None.

    The type wins over the name: a stream typed ``EDA`` named ``"ECG box"`` is EDA.
    Whole words only, so that ``"Medal"`` is not EDA; the unambiguous acronyms
    (``ecg``, ``gsr``, ``bvp``, ...) also count when glued to other letters.
    """
    for text in (stream_type, name):
        tokens = label_words(text)
        squashed = re.sub(r"[^a-z]", "", text.lower())
        for kind, words in _KIND_WORDS.items():
            if tokens.intersection(words) or squashed in words:
                return kind
            if any(w in squashed for w in words if w in _GLUABLE):
                return kind
    return None
