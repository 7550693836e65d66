"""``labmrt sensors ...``: the sensor tools, each sub-subcommand in its own module.

Each module in :data:`SENSOR_SUBCOMMANDS` exposes ``register(subparsers)``
for the nested ``labmrt sensors`` parser, so the simulator, the monitor and
the trainer stay independent of one another.
"""

from __future__ import annotations

import importlib

#: The ``labmrt sensors`` subcommands, one module each, in the order of ``--help``.
SENSOR_SUBCOMMANDS: list[str] = [
    "sensors_simulate",
    "sensors_list",
    "sensors_monitor",
    "sensors_train",
    "sensors_replay",
    "sensors_play",
]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sensors",
        help="LSL sensor tools: simulate sources, list streams, monitor, train, replay, play",
    )
    nested = parser.add_subparsers(dest="sensors_command", metavar="SUBCOMMAND")
    for name in SENSOR_SUBCOMMANDS:
        importlib.import_module(f"labmrt.commands.{name}").register(nested)
    parser.set_defaults(handler=lambda args: parser.print_help() or 0)
