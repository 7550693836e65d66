"""How long a decision-point draw and a protocol load take.

Prints draws per second of MicroRandomizer.draw (probability lookup, inverse
CDF, the audit record) against the bare numpy Generator.random() call it is
built on, measured in the same run, and the time to load and validate the
shipped framing_affect protocol (TOML + 30-task CSV).

    .venv/bin/python bench/bench_randomizer.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from bench_record import BenchRecord

from labmrt.protocol import load_protocol
from labmrt.session.randomizer import MicroRandomizer

PROTOCOL = Path(__file__).resolve().parents[1] / "protocols" / "framing_affect.toml"
N = 200_000


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    record = BenchRecord("bench_randomizer", timing=True)
    protocol = load_protocol(PROTOCOL)
    states = ("calm", "aroused", "unknown")

    def bare() -> None:
        rng = np.random.default_rng(1)
        for _ in range(N):
            rng.random()

    def draws() -> None:
        rnd = MicroRandomizer(protocol, "BENCH")
        for k in range(N):
            rnd.draw(k, {"affect_state": states[k % 3]})

    t_bare = best_of(bare)
    t_draw = best_of(draws)
    t_load = best_of(lambda: load_protocol(PROTOCOL), repeat=5)
    print(f"bare Generator.random():   {N / t_bare:12,.0f} per s")
    print(f"MicroRandomizer.draw():    {N / t_draw:12,.0f} per s  ({t_draw / N * 1e6:.2f} us each)")
    print(f"ratio draw / bare:         {t_draw / t_bare:12.1f} x")
    print(f"load_protocol(framing_affect.toml + 30-task CSV): {t_load * 1e3:.1f} ms")
    record.write(
        {
            "draws_per_s": N / t_draw,
            "bare_per_s": N / t_bare,
            "draw_us": t_draw / N * 1e6,
            "draw_over_bare": t_draw / t_bare,
            "load_protocol_ms": t_load * 1e3,
        }
    )


if __name__ == "__main__":
    main()
