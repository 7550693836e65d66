"""The study protocol: a TOML file (and its tasks CSV) read into a frozen, validated model.

``files`` reads the bytes (TOML, CSV, model hashes), ``model`` holds the pydantic
classes, ``rules`` the study rules that span fields, ``errors`` turns every failure
into located problems, and ``load`` puts them together in :func:`load_protocol`.
Everything else in labmrt takes a :class:`Protocol`.
"""

from labmrt.protocol.load import load_protocol
from labmrt.protocol.model import (
    AFFECT_CONTEXT,
    Arm,
    Feature,
    Outcome,
    Protocol,
    Task,
)

__all__ = ["AFFECT_CONTEXT", "Arm", "Feature", "Outcome", "Protocol", "Task", "load_protocol"]
