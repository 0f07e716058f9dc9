"""Predicts a pulse sequence's decoherence χ with the PyPI package `filter-functions` (qutech), from the
same piecewise-constant drive our emulated generator plays, for the interop test that checks the emulated
qubit testbed against it.

Input (--spec): a JSON object
  {"segments": [[duration_s, rabi_rad_per_s, phase_rad], ...],   # the drive, piecewise constant
   "noise": [{"white": S0} | {"powerLaw": [A, alpha, w_low, w_high]} | {"lorentzian": [sigma2, tau_c]}, ...]}
with the emulator's conventions: H = ½[Ω(t)(cos φ σx + sin φ σy) + β(t) σz], β Gaussian with two-sided
angular PSD S(ω) = Σ components; white S0; power law A/|ω|^α between w_low and w_high (0 outside);
Lorentzian 2σ²τ/(1+ω²τ²).

`filter-functions` takes the noise operator σz/2 and a one-sided PSD on a positive ω grid, that is 2S(ω);
its infidelity I then satisfies χ = 2I for a qubit (REFERENCES.md). Prints one JSON line per --spec, then one when done:
  {"event": "chi", "chi": χ, "coherence": e^{-χ}}
  {"event": "done"}
"""
import argparse
import json

import warnings

import numpy as np
import filter_functions as ff

# filter-functions 1.2 calls np.divide(where=…) without out=; numpy warns, the result it uses is unaffected.
warnings.filterwarnings("ignore", message="'where' used without 'out'")


def spectrum(components, omega):
    s = np.zeros_like(omega)
    for c in components:
        if "white" in c:
            s += c["white"]
        elif "powerLaw" in c:
            a, alpha, lo, hi = c["powerLaw"]
            s += np.where((omega >= lo) & (omega <= hi), a / omega**alpha, 0.0)
        elif "lorentzian" in c:
            sigma2, tau = c["lorentzian"]
            s += 2 * sigma2 * tau / (1 + (omega * tau) ** 2)
        else:
            raise SystemExit(f"unknown noise component {c}")
    return s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, action="append",
                        help="the drive and the noise, as JSON (see above); repeat for several, answered in order")
    parser.add_argument("--timeout", type=float, default=60, help="unused: the computation is bounded")
    for text in parser.parse_args().spec:
        predict(json.loads(text))
    print(json.dumps({"event": "done"}), flush=True)


def predict(spec):
    segments = np.array(spec["segments"], dtype=float)
    dt, rabi, phase = segments[:, 0], segments[:, 1], segments[:, 2]
    sx = np.array([[0, 1], [1, 0]], dtype=complex)
    sy = np.array([[0, -1j], [1j, 0]], dtype=complex)
    sz = np.array([[1, 0], [0, -1]], dtype=complex)
    pulse = ff.PulseSequence(
        [[sx / 2, rabi * np.cos(phase), "X"], [sy / 2, rabi * np.sin(phase), "Y"]],
        [[sz / 2, np.ones_like(dt), "Z"]],
        dt,
    )
    total = dt.sum()
    # A log grid from far below 1/T to far above the fastest drive and noise feature: the integrand
    # S F / ω² falls off beyond both ends for every spectrum the test uses.
    lows = [1e-4 / total]
    highs = [1e3 / dt.min(), 1e3 / total]
    for c in spec["noise"]:
        if "powerLaw" in c:
            lows.append(c["powerLaw"][2])
            highs.append(c["powerLaw"][3])
        if "lorentzian" in c:
            highs.append(1e3 / c["lorentzian"][1])
    omega = np.geomspace(max(min(lows), 1e-12), max(highs), int(spec.get("points", 20000)))
    one_sided = 2 * spectrum(spec["noise"], omega)
    infidelity = ff.infidelity(pulse, one_sided, omega)
    chi = 2 * float(np.sum(infidelity))
    print(json.dumps({"event": "chi", "chi": chi, "coherence": float(np.exp(-chi))}), flush=True)


if __name__ == "__main__":
    main()
