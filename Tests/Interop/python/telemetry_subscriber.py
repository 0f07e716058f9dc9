#!/usr/bin/env python3
"""The README's Python telemetry subscriber, driven by the Swift InteropTests.

Its receiving, decoding, loss detection and snapshot request are the README's "Python
subscriber" section, line for line (pyzmq plus telemetry_pb2, which protoc generates from
Sources/Telemetry/Schema/telemetry.proto); only the reporting around them is for the test.

Protocol (as zmq_peer.py): stdout carries one JSON object per line with an "event" key:
    ready     {}                                       connected and subscribed
    message   {"topic", "publisher", "sequence", "kind", "count", "last_value",
               and for a batch "hardware_times" and "host_times" as lists of decimal strings}
    gap       {"topic", "publisher", "missed"}         a sequence number was skipped
    snapshot  {"publisher", "channels": [topic...], "units": [unit...], "values": [str...], "sequences": [str...]}
    snapshot-timeout {}                                no reply within --snapshot-timeout
    done      {"received", "gaps"}                     about to exit normally
    error     {"error"}
stdin carries commands: "snapshot" asks the snapshot endpoint; "quit" (or end of stdin) ends.
"""

import argparse
from itertools import accumulate
import json
import os
import queue
import sys
import threading
import time


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=25)
    parser.add_argument("--proto-dir", required=True, help="the folder holding protoc's telemetry_pb2.py")
    parser.add_argument("--connect", action="append", required=True)
    parser.add_argument("--subscribe", action="append", default=[])
    parser.add_argument("--snapshot")
    parser.add_argument("--snapshot-prefix", default="")
    parser.add_argument("--snapshot-timeout", type=float, default=2.0)
    parser.add_argument("--curve-serverkey")
    parser.add_argument("--curve-publickey")
    parser.add_argument("--curve-secretkey")
    args = parser.parse_args()

    # A hard deadline whatever happens, so a wedged peer cannot hang the test run.
    threading.Timer(args.timeout + 5, lambda: os._exit(3)).start()

    sys.path.insert(0, args.proto_dir)
    try:
        import zmq
        import telemetry_pb2 as pb
    except ImportError as error:
        emit("error", error=f"cannot import pyzmq or the generated telemetry_pb2: {error}")
        return 2

    def secure(sock):
        # README: "the node's public key, and this client's key pair on the node's allow-list"
        if args.curve_serverkey:
            sock.curve_serverkey = args.curve_serverkey.encode()
            sock.curve_publickey = args.curve_publickey.encode()
            sock.curve_secretkey = args.curve_secretkey.encode()

    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("quit")

    threading.Thread(target=read_stdin, daemon=True).start()

    ctx = zmq.Context()
    # --- README: subscribe ---
    sub = ctx.socket(zmq.SUB)
    secure(sub)
    for endpoint in args.connect:
        sub.connect(endpoint)
    for prefix in args.subscribe or [""]:
        sub.subscribe(prefix.encode())
    last = {}  # (publisher, instance, topic) -> last sequence
    # ---
    emit("ready")

    received = gaps = 0
    deadline = time.monotonic() + args.timeout
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while time.monotonic() < deadline:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            command = None
        if command == "quit":
            break
        if command == "snapshot":
            # --- README: the late joiner's snapshot ---
            req = ctx.socket(zmq.REQ)
            secure(req)
            req.linger = 0
            req.connect(args.snapshot)
            req.send(pb.SnapshotRequest(prefix=args.snapshot_prefix).SerializeToString())
            if req.poll(int(args.snapshot_timeout * 1000)):
                snap = pb.Snapshot.FromString(req.recv())
                emit("snapshot", publisher=snap.publisher_id,
                     channels=[c.descriptor.topic for c in snap.channels],
                     units=[c.descriptor.unit for c in snap.channels],
                     values=[repr(c.last.value) for c in snap.channels],
                     sequences=[str(c.sequence) for c in snap.channels])
            else:
                emit("snapshot-timeout")
            req.close()
            # ---
        if not poller.poll(50):
            continue
        # --- README: receive, decode, detect loss ---
        topic, header, payload = sub.recv_multipart()
        h, p = pb.FrameHeader.FromString(header), pb.Payload.FromString(payload)
        key = (h.publisher_id, h.publisher_instance, topic)
        if key in last and h.sequence != last[key] + 1:
            emit("gap", topic=topic.decode(), publisher=h.publisher_id, missed=h.sequence - last[key] - 1)
            gaps += 1
        last[key] = h.sequence
        kind = p.WhichOneof("body")
        if kind == "batch":  # times as deltas (schema 2) or absolute (schema 1)
            hardware = list(p.batch.hardware_time_ns) or list(accumulate(p.batch.hardware_time_delta_ns))
            host = list(p.batch.host_time_ns) or list(accumulate(p.batch.host_time_delta_ns))
        # ---
        received += 1
        fields = {"topic": topic.decode(), "publisher": h.publisher_id, "sequence": h.sequence, "kind": kind}
        if kind == "sample":
            fields.update(count=1, last_value=p.sample.value)
        elif kind == "batch":
            fields.update(count=len(p.batch.values), last_value=p.batch.values[-1],
                          hardware_times=[str(t) for t in hardware], host_times=[str(t) for t in host])
        elif kind == "descriptor":
            fields.update(unit=p.descriptor.unit)
        emit("message", **fields)

    emit("done", received=received, gaps=gaps)
    sub.close()
    ctx.term()
    os._exit(0)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # report, so the Swift side shows why
        emit("error", error=f"{type(error).__name__}: {error}")
        sys.exit(1)
