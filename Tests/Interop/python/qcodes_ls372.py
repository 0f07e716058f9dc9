#!/usr/bin/env python3
"""Drive an emulated Lake Shore 372 with QCoDeS's own, unmodified driver over pyvisa-py.

Connects to TCPIP::<host>::<port>::SOCKET, reads every enabled channel's temperature, raw
resistance and status, sets up the sample heater (closed loop on the control channel, a heater
range, PID and a setpoint) and then watches the control channel until it settles at the setpoint.
Prints one JSON object per line: "identity", "channel" (one per enabled channel), "heater", "sample"
(while settling) and finally "done" (or "error"). Exits on its own within --timeout seconds.
"""
import argparse
import json
import sys
import time


def emit(kind, **fields):
    print(json.dumps({"event": kind, **fields}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True, help="VISA resource, e.g. TCPIP::127.0.0.1::7777::SOCKET")
    parser.add_argument("--control-channel", type=int, default=6)
    parser.add_argument("--setpoint", type=float, required=True, help="kelvin")
    parser.add_argument("--range", default="100μA", help="sample heater range as QCoDeS names it")
    parser.add_argument("--pid", type=float, nargs=3, default=[10.0, 20.0, 0.0])
    parser.add_argument("--tolerance", type=float, default=0.02, help="relative settling tolerance")
    parser.add_argument("--settled-samples", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    try:
        from qcodes.instrument_drivers.Lakeshore import LakeshoreModel372
    except ImportError as error:
        emit("error", message=f"QCoDeS is missing ({error}); `make test` installs it: python3 -m pip install qcodes pyvisa-py")
        return 3

    deadline = time.monotonic() + args.timeout
    ls = LakeshoreModel372("ls372", args.address, visalib="@py", print_connect_message=False, timeout=5)
    try:
        emit("identity", **ls.IDN())
        for channel in ls.channels:
            if not channel.enabled():
                continue
            emit("channel", name=channel.short_name, label=channel.sensor_name(),
                 kelvin=channel.temperature(), ohms=channel.sensor_raw(), status=channel.sensor_status())

        heater = ls.sample_heater
        heater.mode("closed_loop")
        heater.input_channel(args.control_channel)
        heater.P(args.pid[0])
        heater.I(args.pid[1])
        heater.D(args.pid[2])
        heater.output_range(args.range)
        heater.setpoint(args.setpoint)
        emit("heater", mode=heater.mode(), input=heater.input_channel(), range=heater.output_range(),
             P=heater.P(), I=heater.I(), D=heater.D(), setpoint=heater.setpoint())

        control = ls.channels[args.control_channel - 1]
        settled = 0
        while time.monotonic() < deadline:
            kelvin = control.temperature()
            emit("sample", kelvin=kelvin, heater_percent=heater.output())
            if abs(kelvin - args.setpoint) <= args.tolerance * args.setpoint:
                settled += 1
                if settled >= args.settled_samples:
                    emit("done", kelvin=kelvin)
                    return 0
            else:
                settled = 0
            time.sleep(0.2)
        emit("error", message=f"channel {args.control_channel} did not settle at {args.setpoint} K within {args.timeout} s")
        return 1
    finally:
        ls.close()


if __name__ == "__main__":
    sys.exit(main())
