"""A two-arm protocol with a constant probability, for power simulations with a known answer."""

from __future__ import annotations

import textwrap
from pathlib import Path


def marginal_protocol(tmp_path: Path, tasks: int = 30) -> Path:
    """Arms control (baseline) and treat, P(treat) = 0.4 at every one of ``tasks`` tasks."""
    rows = "\n".join(f'[[tasks]]\nid = "t{i}"\ntext = "task {i}"\n' for i in range(tasks))
    path = tmp_path / "marginal.toml"
    path.write_text(
        textwrap.dedent(
            """\
            [study]
            title = "Marginal"
            version = "1"

            [[arms]]
            id = "control"
            label = "Control"
            framing = "{task}"
            baseline = true

            [[arms]]
            id = "treat"
            label = "Treatment"
            framing = "Now: {task}"

            [randomization]
            seed = 7
            probabilities = { control = 0.6, treat = 0.4 }
            """
        )
        + rows
    )
    return path
