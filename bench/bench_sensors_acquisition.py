"""Acquisition and simulator cost: what labmrt's sensor plumbing costs per signal second.

Prints, for ECG 500 Hz + PPG 100 Hz + EDA 64 Hz:

1. offline generation: CPU seconds per signal second of ``generate_recording``;
2. live: the simulator streaming over LSL on loopback while three StreamBuffers
   acquire it, over ``--seconds`` of real time: process CPU per second of
   signal, split into simulator alone (measured first) and simulator + buffers;
   the baseline is a bare pylsl ``pull_chunk`` loop on the same streams, so the
   ratio shows what the ring buffer, loss checks and threads add;
3. delivery latency: local clock when new samples are readable from the
   buffer minus the LSL stamp of the newest one, p50 / p99 over all polls of a
   100 Hz poller (the simulator pushes samples as they fall due, every 50 ms).

Usage: .venv/bin/python bench/bench_sensors_acquisition.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import pylsl

from sensors.acquire import StreamBuffer, find_stream, wait_for
from sensors.simulate import ArousalSchedule, SimulatedSensors, generate_recording

KINDS = ("ecg", "ppg", "eda")


def cpu() -> float:
    return time.process_time()


def offline(seconds: float) -> float:
    t = cpu()
    generate_recording(1, ArousalSchedule.random(1, seconds, 30), seconds, ppg=True)
    return (cpu() - t) / seconds


def live(seconds: float, mode: str) -> tuple[float, list[float]]:
    """CPU per signal second and latencies with ``mode`` in {sim, raw, buffer}."""
    sim = SimulatedSensors(seed=2, ppg=True, name_prefix=f"bench-{mode}").start()
    descs = [find_stream(source_id=sim.source_id(k), timeout=3) for k in KINDS]
    latencies: list[float] = []
    stop = threading.Event()
    readers: list[threading.Thread] = []
    buffers: list[StreamBuffer] = []
    if mode == "raw":

        def pull(info):
            inlet = pylsl.StreamInlet(info, recover=False)
            inlet.open_stream(3)
            while not stop.is_set():
                inlet.pull_chunk(timeout=0.1, max_samples=1024, min_samples=1, as_numpy=True)

        readers = [threading.Thread(target=pull, args=(d.info,), daemon=True) for d in descs]
        for r in readers:
            r.start()
    elif mode == "buffer":
        buffers = [StreamBuffer(d).connect() for d in descs]
        assert wait_for(lambda: all(b.state == "streaming" for b in buffers), 5)
    time.sleep(1.0)  # settle: first clock offsets, inlets filled
    t_cpu, t0 = cpu(), time.monotonic()
    seen = [b.n_written for b in buffers]  # this poller's own cursors
    while time.monotonic() - t0 < seconds:
        time.sleep(0.01)  # a 100 Hz poller, like a GUI timer
        for i, b in enumerate(buffers):
            if b.n_written > seen[i]:
                seen[i] = b.n_written
                _, ts = b.get_data(0.2)
                latencies.append(pylsl.local_clock() - ts[-1])
    used = cpu() - t_cpu
    stop.set()
    for r in readers:
        r.join()
    for b in buffers:
        b.disconnect()
    sim.stop()
    return used / seconds, latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    print("ECG 500 Hz + PPG 100 Hz + EDA 64 Hz")
    print(f"offline generation: {offline(120.0) * 100:.2f}% of one core per signal second")
    sim_only, _ = live(args.seconds, "sim")
    raw, _ = live(args.seconds, "raw")
    buf, lat = live(args.seconds, "buffer")
    print(f"live, {args.seconds:g} s each (process CPU per signal second, % of one core):")
    print(f"  simulator alone              {sim_only * 100:6.2f}%")
    print(
        f"  simulator + bare pylsl pulls {raw * 100:6.2f}%  (baseline readers: {(raw - sim_only) * 100:.2f}%)"
    )
    print(
        f"  simulator + 3 StreamBuffers  {buf * 100:6.2f}%  (buffers: {(buf - sim_only) * 100:.2f}%)"
    )
    ratio = (buf - sim_only) / max(raw - sim_only, 1e-9)
    print(f"  StreamBuffer cost / bare pull cost: {ratio:.2f}x")
    lat_ms = np.array(lat) * 1000
    print(
        f"delivery latency newest sample -> readable: p50 {np.percentile(lat_ms, 50):.1f} ms, "
        f"p99 {np.percentile(lat_ms, 99):.1f} ms (n={len(lat_ms)})"
    )


if __name__ == "__main__":
    main()
