#!/usr/bin/env python3
"""The qubit testbed's shot loop written with numpy, vectorised over shots, as the anchor for
qubit-compare. Same algorithm as QubitTestbed: exact joint OU updates (K + 1 normals per interval),
Bloch vector with T1 amplitude damping, rotations by Rodrigues' formula, projective measurement, readout
assignment errors and Gaussian shot noise.

Reads one JSON object on stdin: {"white", "components": [[variance, rate], ...], "t1", "operations":
[["free", seconds] | ["pulse", seconds, angle, phase] | ["measure"]], "readout": {"p00", "p11",
"ground": [i, q], "excited": [i, q], "sigma"}, "shots", "seed"}. Prints one JSON line:
{"shots_per_second", "excited"}.
"""
import json
import sys
import time

import numpy as np


def coefficients(variance, rate, white, seconds):
    """Per component: decay, noise scale, mean gain, noise gain; and the rest's standard deviation."""
    a = rate * seconds
    decay = np.exp(-a)
    one_minus = -np.expm1(-a)
    var_x = variance * -np.expm1(-2 * a)
    cov = variance * one_minus ** 2 / rate
    shape = np.where(a < 0.5, series(a), 2 * a - 3 + 4 * np.exp(-a) - np.exp(-2 * a))
    var_i = variance * shape / rate ** 2
    gain = np.where(var_x > 0, cov / np.where(var_x > 0, var_x, 1), 0.0)
    rest = white * seconds + np.maximum(0.0, var_i - gain * cov).sum()
    return decay[:, None], np.sqrt(var_x)[:, None], (one_minus / rate)[:, None], gain[:, None], np.sqrt(rest)


def series(a):
    total = np.zeros_like(a)
    power = a * a
    factorial = 2.0
    for n in range(3, 25):
        power = power * a
        factorial *= n
        total += (-1) ** n * (4 - 2.0 ** n) * power / factorial
    return total


def main():
    spec = json.load(sys.stdin)
    comps = np.array(spec["components"], dtype=float).reshape(-1, 2)
    variance, rate = comps[:, 0], comps[:, 1]
    white, t1, n = spec["white"], spec["t1"], spec["shots"]
    ro = spec["readout"]
    rng = np.random.default_rng(spec["seed"])
    cache = {}

    def table(seconds):
        if seconds not in cache:
            cache[seconds] = coefficients(variance, rate, white, seconds) + (np.exp(-seconds / t1), np.exp(-seconds / (2 * t1)))
        return cache[seconds]

    start = time.perf_counter()
    k = len(variance)
    state = np.sqrt(variance)[:, None] * rng.standard_normal((k, n))
    x, y, z = np.zeros(n), np.zeros(n), np.ones(n)
    outcomes = []
    for op in spec["operations"]:
        if op[0] == "measure":
            excited = rng.random(n) < (1 - z) / 2
            outcomes.append(excited)
            x, y, z = np.zeros(n), np.zeros(n), np.where(excited, -1.0, 1.0)
            continue
        decay, scale, mean_gain, gain, rest, z_decay, xy_decay = table(op[1])
        w = scale * rng.standard_normal((k, n))
        phase = rest * rng.standard_normal(n) + (mean_gain * state + gain * w).sum(axis=0)
        state = decay * state + w
        if op[0] == "free":
            c, s = np.cos(phase), np.sin(phase)
            x, y = x * c - y * s, x * s + y * c
        else:
            angle, axis = op[2], op[3]
            vx, vy, vz = angle * np.cos(axis), angle * np.sin(axis), phase
            norm = np.sqrt(vx * vx + vy * vy + vz * vz)
            nx, ny, nz = vx / norm, vy / norm, vz / norm
            c, s = np.cos(norm), np.sin(norm)
            dot = (nx * x + ny * y + nz * z) * (1 - c)
            cx, cy, cz = ny * z - nz * y, nz * x - nx * z, nx * y - ny * x
            x, y, z = x * c + cx * s + nx * dot, y * c + cy * s + ny * dot, z * c + cz * s + nz * dot
        x, y, z = x * xy_decay, y * xy_decay, 1 + (z - 1) * z_decay
    excited_total = 0
    for excited in outcomes:
        reports = np.where(excited, rng.random(n) < ro["p11"], rng.random(n) >= ro["p00"])
        centre_i = np.where(reports, ro["excited"][0], ro["ground"][0])
        centre_q = np.where(reports, ro["excited"][1], ro["ground"][1])
        points_i = centre_i + ro["sigma"] * rng.standard_normal(n)
        points_q = centre_q + ro["sigma"] * rng.standard_normal(n)
        assert points_i.shape == points_q.shape == (n,)
        excited_total += int(excited.sum())
    elapsed = time.perf_counter() - start
    print(json.dumps({"shots_per_second": n / elapsed, "excited": excited_total / n / max(1, len(outcomes))}))


if __name__ == "__main__":
    main()
