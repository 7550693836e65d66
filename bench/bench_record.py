"""The figures a bench printed, kept as JSON under ``bench/results/<bench>.json``.

The documentation quotes benchmark figures from these files at build time
(``docs/_ext/bench_figures.py``), so a figure on the site is the figure the
bench printed, never one typed again by hand. Each file holds, besides the
figures, what they depend on: the date, the machine (cores and the 1-minute
load average at the start and the end of the run: timings on a shared
machine move with it), the software versions (as a session records them,
:func:`labmrt.store.provenance.software_versions`), the git commit and the
command line.

A bench makes a :class:`BenchRecord` when it starts and calls
:meth:`BenchRecord.write` with its figures at the end; its printed output
stays as it was. ``LABMRT_BENCH_RESULTS=DIR`` writes elsewhere (a trial run
that should not replace the figures of record).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they are written as null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class BenchRecord:
    """One run of a bench: made at its start, written with its figures at its end.

    ``timing``: the figures are times (they depend on the machine's load), as
    opposed to accuracy, agreement or simulation figures that do not.
    """

    def __init__(self, bench: str, *, timing: bool, argv: list[str] | None = None):
        self.bench = bench
        self.timing = timing
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.started = time.time()
        self.load_start = os.getloadavg()[0]

    def write(self, figures: dict[str, Any], **notes: Any) -> Path:
        from labmrt.store.provenance import software_versions

        out_dir = Path(os.environ.get("LABMRT_BENCH_RESULTS") or RESULTS)
        out_dir.mkdir(parents=True, exist_ok=True)
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
        record = {
            "bench": self.bench,
            "command": " ".join(["bench/" + self.bench + ".py", *self.argv]),
            "date": time.strftime("%Y-%m-%d", time.gmtime(self.started)),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "duration_s": round(time.time() - self.started, 1),
            "timing": self.timing,
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_start": round(self.load_start, 2),
                "load_average_end": round(os.getloadavg()[0], 2),
                "system": f"{platform.system()} {platform.machine()}",
            },
            "versions": software_versions(),
            "git_commit": commit + ("+changes" if dirty and commit else ""),
            "notes": notes,
            "figures": figures,
        }
        path = out_dir / f"{self.bench}.json"
        text = json.dumps(_clean(record), indent=1, ensure_ascii=False, allow_nan=False)
        path.write_text(text + "\n", "utf-8")
        print(f"figures written to {path}")
        return path
