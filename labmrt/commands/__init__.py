"""One module per ``labmrt`` subcommand, each exposing ``register(subparsers)``."""
