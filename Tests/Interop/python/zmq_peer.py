#!/usr/bin/env python3
"""A pyzmq peer that the Swift InteropTests drive as a child process.

Usage: zmq_peer.py <subcommand> [options]   (see --help of each subcommand)

Protocol
  * stdout carries one JSON object per line, each with an "event" key:
      bound     {"endpoint", "server_key"?}   a binding peer is listening
      ready     {"endpoint"}                  a connecting peer has connected
      message   {"frames": [hex, ...]}        a SUB peer received a message
      request   {"identity"?, "frames"}       a REP/ROUTER peer received a request
      reply     {"identity"?, "frames"}       a REQ/DEALER peer received a reply
      monitor   {"name", "value", "endpoint"} a socket event (sub --monitor)
      published {"rounds"}                    a PUB peer finished publishing rounds
      done      {"received"|"served"|...}     the peer is about to exit normally
      error     {"error"}                     something went wrong (exit status != 0)
    Frames and identities are hex strings, so binary bytes survive JSON.
  * stdin carries commands, one per line. Every peer stops on "quit" or when stdin
    closes; "pub" also understands "round" and "rounds N".
  * Pass Z85 keys as --option=KEY: a Z85 key may begin with "-", which argparse would
    otherwise read as an option.
  * Every peer has a hard deadline (--timeout seconds); a watchdog ends the process a
    few seconds after it no matter what, so a peer can never hang a test run.

Only pyzmq and the standard library are used.
"""

import argparse
import json
import os
import queue
import sys
import tempfile
import threading
import time

try:
    import zmq
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator
    from zmq.utils.monitor import parse_monitor_message
except ImportError as error:  # the Swift side checks this first, but say it here too
    print(json.dumps({"event": "error", "error": f"pyzmq is not installed: {error}"}), flush=True)
    sys.exit(2)


_print_lock = threading.Lock()


def emit(event, **fields):
    """Writes one JSON line to stdout."""
    fields = {"event": event, **fields}
    with _print_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def hexes(frames):
    return [bytes(frame).hex() for frame in frames]


def round_messages(number):
    """The messages a "pub" peer publishes in round `number`, in order; frame 1 is the round
    number in ASCII. The Swift tests build the same table (InteropFixtures.swift)."""
    r = str(number).encode()
    return [
        [b"node1/fridge/mxc", r, bytes([0x00, 0xFF, 0x00, 0x7F, 0x80, 0xFE])],
        [b"node1/awg/ch1", r, b"waveform", bytes([0x01, 0x02, 0x03])],
        [b"node2/fridge/mxc", r, bytes([0x00])],
        [b"node1/fridge", r, b"no trailing slash"],
        [b"node1/fridge/still", r, b"", bytes([0xFF, 0xFF, 0xFF, 0xFF])],
    ]


class Control:
    """Commands from stdin, the deadline, and the watchdog."""

    def __init__(self, timeout):
        self.deadline = time.monotonic() + timeout
        self.commands = queue.Queue()
        self.stopped = False
        self.timed_out = False
        reader = threading.Thread(target=self._read_stdin, daemon=True)
        reader.start()
        watchdog = threading.Timer(timeout + 5.0, self._abort)
        watchdog.daemon = True
        watchdog.start()

    def _read_stdin(self):
        try:
            for line in sys.stdin:
                self.commands.put(line.strip())
        finally:
            self.commands.put(None)  # end of input: stop

    @staticmethod
    def _abort():
        emit("error", error="watchdog: the peer outlived its deadline and is being killed")
        os._exit(3)

    def remaining(self):
        return self.deadline - time.monotonic()

    def next_command(self, timeout=0.0):
        """The next command, "" when none arrives within timeout. Sets .stopped on
        "quit", end of stdin, or the deadline (then returns None)."""
        if self.stopped:
            return None
        if self.remaining() <= 0:
            emit("error", error="deadline passed before the test said quit")
            self.stopped = True
            self.timed_out = True
            return None
        try:
            command = self.commands.get(timeout=max(0.0, min(timeout, self.remaining())))
        except queue.Empty:
            return ""
        if command is None or command == "quit":
            self.stopped = True
            return None
        return command


def curve_client(sock, args):
    if args.curve_serverkey:
        sock.curve_serverkey = args.curve_serverkey.encode()
        sock.curve_publickey = args.curve_publickey.encode()
        sock.curve_secretkey = args.curve_secretkey.encode()


def recv_ready(sock, timeout_ms):
    return sock.poll(timeout_ms, zmq.POLLIN) & zmq.POLLIN


# MARK: Subcommands


def cmd_pub(ctx, ctl, args):
    """PUB: binds, then publishes the next round of round_messages() per "round" command
    ("rounds N": the next N rounds). Rounds are numbered from 1."""
    auth = None
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    fields = {}
    keydir = None
    try:
        if args.curve_server:
            public, secret = zmq.curve_keypair()
            if args.allow is not None:
                auth = ThreadAuthenticator(ctx)
                auth.start()
                if args.auth_mode == "certs":
                    # zmq.auth reads allowed public keys from "*.key" certificate files.
                    keydir = tempfile.TemporaryDirectory(prefix="zmq-peer-keys-")
                    for index, key in enumerate(args.allow):
                        with open(os.path.join(keydir.name, f"client{index}.key"), "w") as f:
                            f.write(f'metadata\ncurve\n    public-key = "{key}"\n')
                    auth.configure_curve(domain=args.zap_domain, location=keydir.name)
                else:
                    allowed = {key.encode() for key in args.allow}

                    class Provider:
                        def callback(self, domain, key):
                            return key in allowed

                    auth.configure_curve_callback(domain=args.zap_domain, credentials_provider=Provider())
                sock.zap_domain = args.zap_domain.encode()
            sock.curve_secretkey = secret
            sock.curve_publickey = public
            sock.curve_server = True
            fields["server_key"] = public.decode()
        sock.bind(args.bind)
        emit("bound", endpoint=sock.last_endpoint.decode(), **fields)
        rounds = 0
        while True:
            command = ctl.next_command(timeout=0.05)
            if command is None:
                break
            if not command:
                continue
            words = command.split()
            if words[0] == "round":
                count = 1
            elif words[0] == "rounds" and len(words) == 2:
                count = int(words[1])
            else:
                emit("error", error=f"unknown command {command!r}")
                return 2
            for _ in range(count):
                rounds += 1
                for message in round_messages(rounds):
                    sock.send_multipart(message)
            emit("published", rounds=rounds)
        emit("done", rounds=rounds)
        return 4 if ctl.timed_out else 0
    finally:
        sock.close(linger=0)
        if auth is not None:
            auth.stop()
        if keydir is not None:
            keydir.cleanup()


def cmd_sub(ctx, ctl, args):
    """SUB: connects, subscribes, and reports every message until told to quit."""
    sock = ctx.socket(zmq.SUB)
    sock.linger = 0
    monitor = None
    try:
        curve_client(sock, args)
        for prefix in args.subscribe:
            sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        if args.monitor:
            monitor = sock.get_monitor_socket()
        sock.connect(args.connect)
        emit("ready", endpoint=args.connect)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        received = 0
        while ctl.next_command() is not None:
            events = dict(poller.poll(50))
            if sock in events:
                while recv_ready(sock, 0):
                    emit("message", frames=hexes(sock.recv_multipart()))
                    received += 1
            if monitor is not None and monitor in events:
                while recv_ready(monitor, 0):
                    event = parse_monitor_message(monitor.recv_multipart())
                    emit("monitor", name=zmq.Event(event["event"]).name, value=event["value"],
                         endpoint=event["endpoint"].decode(errors="replace"))
        emit("done", received=received)
        return 4 if ctl.timed_out else 0
    finally:
        if monitor is not None:
            sock.disable_monitor()
            monitor.close(linger=0)
        sock.close(linger=0)


def cmd_rep(ctx, ctl, args):
    """REP: binds and answers each request [f0, f1, ...] with [b"ack", seq, ..., f1, f0]."""
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    try:
        sock.bind(args.bind)
        emit("bound", endpoint=sock.last_endpoint.decode())
        served = 0
        while ctl.next_command() is not None:
            if not recv_ready(sock, 50):
                continue
            frames = sock.recv_multipart()
            emit("request", frames=hexes(frames))
            sock.send_multipart([b"ack", str(served).encode()] + frames[::-1])
            served += 1
        emit("done", served=served)
        return 4 if ctl.timed_out else 0
    finally:
        sock.close(linger=0)


def cmd_req(ctx, ctl, args):
    """REQ: connects and sends --count requests [b"*IDN?", seq, bytes([seq, 0x00, 0xFF])],
    reporting each reply; then waits for quit."""
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(args.connect)
        emit("ready", endpoint=args.connect)
        replies = 0
        for seq in range(args.count):
            sock.send_multipart([b"*IDN?", str(seq).encode(), bytes([seq, 0x00, 0xFF])])
            while ctl.next_command() is not None and not recv_ready(sock, 50):
                pass
            if ctl.stopped:
                break
            emit("reply", frames=hexes(sock.recv_multipart()))
            replies += 1
        emit("done", replies=replies)
        while ctl.next_command(timeout=0.05) is not None:
            pass
        return 4 if ctl.timed_out or replies != args.count else 0
    finally:
        sock.close(linger=0)


def cmd_router(ctx, ctl, args):
    """ROUTER: binds and answers [identity, f...] with [identity, b"seen", identity, f...]."""
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    try:
        sock.router_mandatory = 1
        sock.bind(args.bind)
        emit("bound", endpoint=sock.last_endpoint.decode())
        served = 0
        while ctl.next_command() is not None:
            if not recv_ready(sock, 50):
                continue
            identity, *frames = sock.recv_multipart()
            emit("request", identity=identity.hex(), frames=hexes(frames))
            sock.send_multipart([identity, b"seen", identity] + frames)
            served += 1
        emit("done", served=served)
        return 4 if ctl.timed_out else 0
    finally:
        sock.close(linger=0)


def cmd_dealer(ctx, ctl, args):
    """DEALERs, one per --identity: each sends [b"hello", identity] and reports its reply."""
    sockets = {}
    try:
        poller = zmq.Poller()
        for identity in args.identity:
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.routing_id = identity.encode()
            sock.connect(args.connect)
            sockets[sock] = identity
            poller.register(sock, zmq.POLLIN)
        emit("ready", endpoint=args.connect)
        for sock, identity in sockets.items():
            sock.send_multipart([b"hello", identity.encode()])
        waiting = set(sockets)
        while waiting and ctl.next_command() is not None:
            for sock, _ in poller.poll(50):
                emit("reply", identity=sockets[sock].encode().hex(), frames=hexes(sock.recv_multipart()))
                waiting.discard(sock)
        emit("done", replies=len(sockets) - len(waiting))
        while ctl.next_command(timeout=0.05) is not None:
            pass
        return 4 if ctl.timed_out or waiting else 0
    finally:
        for sock in sockets:
            sock.close(linger=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=20.0, help="hard deadline in seconds")
    commands = parser.add_subparsers(dest="command", required=True)

    pub = commands.add_parser("pub", help=cmd_pub.__doc__)
    pub.add_argument("--bind", default="tcp://127.0.0.1:*")
    pub.add_argument("--curve-server", action="store_true", help="CURVE server with a fresh key pair")
    pub.add_argument("--allow", action="append", metavar="Z85",
                     help="admit this client public key (runs zmq.auth's ThreadAuthenticator)")
    pub.add_argument("--auth-mode", choices=["certs", "callback"], default="certs",
                     help="configure_curve with a directory of *.key files, or configure_curve_callback")
    pub.add_argument("--zap-domain", default="interop")

    sub = commands.add_parser("sub", help=cmd_sub.__doc__)
    sub.add_argument("--connect", required=True)
    sub.add_argument("--subscribe", action="append", default=[], metavar="PREFIX")
    sub.add_argument("--monitor", action="store_true", help="report socket events")

    for client in (sub,):
        client.add_argument("--curve-serverkey", metavar="Z85")
        client.add_argument("--curve-publickey", metavar="Z85")
        client.add_argument("--curve-secretkey", metavar="Z85")

    rep = commands.add_parser("rep", help=cmd_rep.__doc__)
    rep.add_argument("--bind", default="tcp://127.0.0.1:*")

    req = commands.add_parser("req", help=cmd_req.__doc__)
    req.add_argument("--connect", required=True)
    req.add_argument("--count", type=int, default=5)

    router = commands.add_parser("router", help=cmd_router.__doc__)
    router.add_argument("--bind", default="tcp://127.0.0.1:*")

    dealer = commands.add_parser("dealer", help=cmd_dealer.__doc__)
    dealer.add_argument("--connect", required=True)
    dealer.add_argument("--identity", action="append", required=True)

    args = parser.parse_args()
    if args.command == "sub" and args.curve_serverkey and not (args.curve_publickey and args.curve_secretkey):
        parser.error("--curve-serverkey needs --curve-publickey and --curve-secretkey")

    ctl = Control(args.timeout)
    ctx = zmq.Context()
    handler = {
        "pub": cmd_pub, "sub": cmd_sub, "rep": cmd_rep, "req": cmd_req,
        "router": cmd_router, "dealer": cmd_dealer,
    }[args.command]
    try:
        status = handler(ctx, ctl, args)
    except Exception as error:  # report, never hang
        emit("error", error=f"{type(error).__name__}: {error}")
        status = 2
    finally:
        ctx.destroy(linger=0)
    sys.stdout.flush()
    os._exit(status)  # skip interpreter teardown: nothing is left to flush, and no thread can hold us


if __name__ == "__main__":
    main()
