"""The machine-speed probe the benchmarks print beside their figures.

This machine's speed moves by up to 1.5x within an hour while nothing else runs on it (the same kernel work took
10.9 to 17.5 CPU seconds on 2026-11-30). A figure is read with the probe taken in the same run: the same fixed
work, so a larger probe means a slower machine at that moment.
"""
import time


def speed_probe(n: int = 10**7) -> float:
    "CPU seconds of a fixed pure-Python loop of `n` multiply-adds."
    t, s = time.process_time(), 0
    for i in range(n): s += i * 3
    return time.process_time() - t
