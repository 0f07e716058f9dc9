"""The anchor of compile-compare: the sample-level CPMG-N waveform at the given rate, built with numpy the way
a physicist would: float32 I and Q arrays of zeros, each 20 ns square pulse written into its slice around the
sample nearest its ideal centre (π/2 on I at 0 and T at half amplitude, π on Q at (j − ½)T/N), and a check
that every sample lies in −1…1. Two ways, each timed as the best of 3 builds: into fresh arrays, and into
arrays allocated once and reused (`out=` for the check's temporaries too), as Sequences' compile(_:into:) does.
Prints `samples_per_second_fresh <x>` and `samples_per_second_reused <x>` (per channel)."""
import argparse
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--pulses", type=int, required=True)
parser.add_argument("--total", type=float, required=True)
parser.add_argument("--rate", type=float, required=True)
args = parser.parse_args()

width = int(round(20e-9 * args.rate))
total = int(round(args.total * args.rate))
lead = width // 2 + 1
length = lead + total + width + int(round(100e-9 * args.rate)) + width


def fill(i, q):
    """Writes the pulses into zeroed I and Q arrays."""
    i[lead - width // 2: lead - width // 2 + width] = 0.5
    i[lead + total - width // 2: lead + total - width // 2 + width] = 0.5
    centres = np.rint((np.arange(1, args.pulses + 1) - 0.5) / args.pulses * total).astype(np.int64) + lead
    for c in centres:
        q[c - width // 2: c - width // 2 + width] = 1.0


def fresh():
    i = np.zeros(length, dtype=np.float32)
    q = np.zeros(length, dtype=np.float32)
    fill(i, q)
    assert np.all(np.abs(i) <= 1) and np.all(np.abs(q) <= 1)


buffers = [np.empty(length, dtype=np.float32) for _ in range(3)] + [np.empty(length, dtype=bool)]


def reused():
    i, q, magnitude, inside = buffers
    i.fill(0)
    q.fill(0)
    fill(i, q)
    for x in (i, q):
        np.abs(x, out=magnitude)
        np.less_equal(magnitude, 1, out=inside)
        assert inside.all()


def best(build):
    seconds = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        build()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds


reused()  # maps the reused arrays' pages, as allocating them does
print(f"samples_per_second_fresh {length / best(fresh)}")
print(f"samples_per_second_reused {length / best(reused)}")
