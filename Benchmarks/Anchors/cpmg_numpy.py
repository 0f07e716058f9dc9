"""The anchor of compile-compare: the sample-level CPMG-N waveform at the given rate, built with numpy the way
a physicist would: float32 I and Q arrays of zeros, each 20 ns square pulse written into its slice around the
sample nearest its ideal centre (π/2 on I at 0 and T at half amplitude, π on Q at (j − ½)T/N), and a check
that every sample lies in −1…1. Prints `samples_per_second <x>` (per channel), timing the best of 3 builds."""
import argparse
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--pulses", type=int, required=True)
parser.add_argument("--total", type=float, required=True)
parser.add_argument("--rate", type=float, required=True)
args = parser.parse_args()


def build():
    width = int(round(20e-9 * args.rate))
    total = int(round(args.total * args.rate))
    lead = width // 2 + 1
    length = lead + total + width + int(round(100e-9 * args.rate)) + width
    i = np.zeros(length, dtype=np.float32)
    q = np.zeros(length, dtype=np.float32)
    i[lead - width // 2: lead - width // 2 + width] = 0.5
    i[lead + total - width // 2: lead + total - width // 2 + width] = 0.5
    centres = np.rint((np.arange(1, args.pulses + 1) - 0.5) / args.pulses * total).astype(np.int64) + lead
    for c in centres:
        q[c - width // 2: c - width // 2 + width] = 1.0
    assert np.all(np.abs(i) <= 1) and np.all(np.abs(q) <= 1)
    return length


best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    n = build()
    best = min(best, time.perf_counter() - start)
print(f"samples_per_second {n / best}")
