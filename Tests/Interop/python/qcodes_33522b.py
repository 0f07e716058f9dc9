#!/usr/bin/env python3
"""Drive an emulated Keysight 33522B with QCoDeS's own, unmodified driver over pyvisa-py.

Connects to TCPIP::<host>::<port>::SOCKET, identifies the generator, sets channel 1's function and
frequency, uploads an arbitrary waveform with raw SCPI (int16 DAC codes as a little-endian binary block
through pyvisa's write_binary_values, and the same waveform as ASCII floats on channel 2), plays it as a
BUS-triggered 3-cycle burst, then sends an out-of-range frequency and an out-of-range arb sample rate
and reads what the error queue says. Prints one JSON object per line: "identity", "settings", "arb",
"played", "frequency_error", "sample_rate_error" and finally "done" (or "error").
"""
import argparse
import json
import math
import sys


def emit(kind, **fields):
    print(json.dumps({"event": kind, **fields}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True, help="VISA resource, e.g. TCPIP::127.0.0.1::5025::SOCKET")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds the VISA session may wait for a reply")
    args = parser.parse_args()

    try:
        from qcodes.instrument_drivers.Keysight import Keysight33522B
    except ImportError as error:
        emit("error", message=f"QCoDeS is missing ({error}); `make test` installs it: python3 -m pip install qcodes pyvisa-py")
        return 3

    awg = Keysight33522B("awg33522b", args.address, visalib="@py", silent=True, timeout=min(5.0, args.timeout))
    try:
        emit("identity", **awg.IDN())

        awg.ch1.function_type("SIN")
        awg.ch1.frequency(12345.0)
        awg.ch1.amplitude_unit("VPP")
        awg.ch1.amplitude(1.0)
        emit("settings", function=awg.ch1.function_type(), frequency=awg.ch1.frequency(),
             amplitude=awg.ch1.amplitude(), unit=awg.ch1.amplitude_unit(), error=list(awg.error()))

        codes = [round(32767 * math.sin(2 * math.pi * i / args.points)) for i in range(args.points)]
        awg.write("FORM:BORD SWAP")
        awg.visa_handle.write_binary_values("SOUR1:DATA:ARB:DAC QCARB,", codes, datatype="h", is_big_endian=False)
        awg.write("SOUR2:DATA:ARB QCASCII," + ",".join(repr(c / 32767) for c in codes))
        awg.write("SOUR1:FUNC:ARB QCARB")
        awg.ch1.function_type("ARB")
        awg.write("SOUR1:FUNC:ARB:SRAT 1E6")
        emit("arb", catalog1=awg.ask("SOUR1:DATA:VOL:CAT?"), catalog2=awg.ask("SOUR2:DATA:VOL:CAT?"),
             selected=awg.ask("SOUR1:FUNC:ARB?"), sample_rate=float(awg.ask("SOUR1:FUNC:ARB:SRAT?")),
             free=int(awg.ask("SOUR1:DATA:VOL:FREE?")), error=list(awg.error()), codes=[str(c) for c in codes])

        awg.ch1.burst_mode("N Cycle")
        awg.ch1.burst_ncycles(3)
        awg.ch1.burst_state("ON")
        awg.ch1.trigger_source("BUS")
        awg.ch1.output("ON")
        awg.force_trigger()
        emit("played", burst=awg.ch1.burst_ncycles(), output=awg.ch1.output(), error=list(awg.error()))

        # QCoDeS validates frequency itself, so the out-of-range values go out as raw SCPI.
        awg.write("SOUR1:FUNC SIN")
        awg.write("SOUR1:FREQ 50E6")
        code, message = awg.error()
        emit("frequency_error", code=code, message=message, frequency=awg.ch1.frequency(), next=list(awg.error()))
        awg.write("SOUR1:FUNC:ARB:SRAT 1E9")
        code, message = awg.error()
        emit("sample_rate_error", code=code, message=message, sample_rate=float(awg.ask("SOUR1:FUNC:ARB:SRAT?")))
        emit("done")
        return 0
    except Exception as error:  # report, so the Swift side sees what went wrong
        emit("error", message=f"{type(error).__name__}: {error}")
        return 1
    finally:
        awg.close()


if __name__ == "__main__":
    sys.exit(main())
