"""LSL acquisition: find the streams, choose their channels, buffer and record the samples.

Depends on :mod:`sensors.kinds` only (and pylsl). Discovery
(:mod:`~sensors.acquire.discovery`) finds the streams and
:mod:`~sensors.acquire.channels` decides from their metadata which channel
carries what; :class:`~sensors.acquire.buffer.StreamBuffer` keeps one
channel's recent samples behind its own acquisition thread, and
:class:`~sensors.acquire.recorder.SampleRecorder` copies them into the
study store.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "buffer": [
            "IRREGULAR_LOST_S",
            "STATES",
            "StateChange",
            "StreamBuffer",
            "check_stream",
            "wait_for",
        ],
        "channels": [
            "ChannelChoice",
            "Selection",
            "StreamPlan",
            "choose_sources",
            "classify_channel",
            "pin_problems",
            "pinned_choice",
            "plan_stream",
            "signal_summary",
        ],
        "connect": ["build_buffers"],
        "discovery": ["find_streams"],
        "recorder": ["SampleRecorder"],
        "streams": ["Channel", "StreamDescription", "find_stream"],
    },
)
