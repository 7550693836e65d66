"""Effects files: the expected effects that ``labmrt simulate`` and ``labmrt power
--simulate`` assume, one schema (:mod:`labmrt.effects.schema`) and one reader
(:mod:`labmrt.effects.load`)."""

from labmrt.effects.load import (
    as_differences,
    checked_effects,
    contrast_arms,
    effects_from_dict,
    load_effects,
    named_protocol,
    parse_effects,
    read_effects,
)
from labmrt.effects.schema import (
    STATES,
    AnswerModel,
    Availability,
    EffectsFile,
    OutcomeModel,
    StateProcess,
    TrialAnalysis,
)

__all__ = [
    "STATES",
    "AnswerModel",
    "Availability",
    "EffectsFile",
    "OutcomeModel",
    "StateProcess",
    "TrialAnalysis",
    "as_differences",
    "checked_effects",
    "contrast_arms",
    "effects_from_dict",
    "load_effects",
    "named_protocol",
    "parse_effects",
    "read_effects",
]
