"""The anchor of chi-compare: χ for CPMG-N (N = 1…64, T given, ideal π pulses as 1e-6·T square pulses) under
S(ω) = 1e7/ω between 2π·1 Hz and 2π·10 MHz, with the PyPI package filter-functions. For each N it doubles the
log-spaced ω grid until χ is within --accuracy (relative) of the reference value, then times that final
computation only (pulse set-up included). Prints `seconds <total>`."""
import argparse
import time
import warnings

import numpy as np
import filter_functions as ff

warnings.filterwarnings("ignore", message="'where' used without 'out'")

parser = argparse.ArgumentParser()
parser.add_argument("--reference", required=True)
parser.add_argument("--accuracy", type=float, required=True)
parser.add_argument("--total", type=float, required=True)
args = parser.parse_args()
reference = [float(x) for x in args.reference.split(",")]
T = args.total
w = T * 1e-6
sx = np.array([[0, 1], [1, 0]], dtype=complex)
sy = np.array([[0, -1j], [1j, 0]], dtype=complex)
sz = np.array([[1, 0], [0, -1]], dtype=complex)
low, high = 2 * np.pi, 2 * np.pi * 1e7


def chi(n, points):
    dt, rabi, phase = [w], [np.pi / 2 / w], [0.0]
    t = w / 2
    for j in range(1, n + 1):
        start = (j - 0.5) / n * T - w / 2
        dt += [start - t, w]
        rabi += [0.0, np.pi / w]
        phase += [0.0, np.pi / 2]
        t = start + w
    dt += [T - w / 2 - t, w]
    rabi += [0.0, np.pi / 2 / w]
    phase += [0.0, 0.0]
    dt, rabi, phase = map(np.array, (dt, rabi, phase))
    pulse = ff.PulseSequence([[sx / 2, rabi * np.cos(phase), "X"], [sy / 2, rabi * np.sin(phase), "Y"]],
                             [[sz / 2, np.ones_like(dt), "Z"]], dt)
    omega = np.geomspace(low, high, points)
    return 2 * float(np.sum(ff.infidelity(pulse, 2 * 1e7 / omega, omega)))


total_seconds = 0.0
for n in range(1, 65):
    points = 500
    while abs(chi(n, points) - reference[n - 1]) > args.accuracy * reference[n - 1]:
        points *= 2
        if points > 2_000_000:
            raise SystemExit(f"N = {n}: no grid up to 2e6 points reaches {args.accuracy}")
    start = time.perf_counter()
    chi(n, points)
    total_seconds += time.perf_counter() - start
print(f"seconds {total_seconds}")
