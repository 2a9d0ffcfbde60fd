#!/usr/bin/env python3
"""Runs a command with a TCP port already listening, handed down the way systemd hands down a
socket it activates: as file descriptor 3, with LISTEN_FDS=1 (and no LISTEN_PID, so that the
process that takes it may be a grandchild).

`scripts/dev.sh --watch` runs `cargo leptos watch` this way, and the shop's server takes the
socket instead of binding the port itself (server::startup::Listen). cargo-leptos stops the old
server and starts the new build after every edit. With the port held here across those
restarts, a request that comes in between waits in the socket's queue for the new server
instead of being refused, and cargo-leptos, which checks the port before it tells the browser
to reload (and when nothing answers, waits half a second to check again), finds it open at
once.

Usage: hold-port.py HOST:PORT COMMAND [ARG...]
Port 0 takes a free port; the first line on standard error names the address held.
"""

import os
import socket
import sys

LISTEN_FD = 3


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: hold-port.py HOST:PORT COMMAND [ARG...]")
    host, _, port = sys.argv[1].rpartition(":")
    host = host.strip("[]")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, int(port)), family=family, backlog=1024)
    except OSError as error:
        sys.exit(f"cannot listen on {sys.argv[1]}: {error.strerror}")
    bound_host, bound_port = listener.getsockname()[:2]
    print(f"hold-port: {bound_host}:{bound_port} held for {sys.argv[2]}", file=sys.stderr, flush=True)
    if listener.fileno() != LISTEN_FD:
        os.dup2(listener.fileno(), LISTEN_FD)
        listener.close()
    os.set_inheritable(LISTEN_FD, True)
    os.environ["LISTEN_FDS"] = "1"
    os.environ.pop("LISTEN_PID", None)
    os.environ.pop("LISTEN_FDNAMES", None)
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
