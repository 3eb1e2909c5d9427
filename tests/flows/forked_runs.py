"""The killed-run tests' bare runs, each forked from one process that imported shuno once: `python -m tests.without_pandas -m tests.flows.forked_runs FD`.

Every bare `run_settlement_date` the tests kill was a new interpreter importing shuno, about a
second of CPU each before the run's own work (a run in a fresh interpreter took 2.5 s of CPU here,
forked from this server 1.5). This server imports it once and forks a run for each request: the run
is still a process of its own, with its own pause hook, stdin and stderr, killed with SIGKILL as
before. Forking after the imports is safe because nothing has run yet: no DuckDB database open, no
polars thread pool (its threads start with the first query, in the forked run); the threads the
imports start (jemalloc's, OpenBLAS's) are idle and fork-aware.

A request is a datagram on the socket FD (a socket pair the test holds the other end of): the run's
arguments and environment as JSON, with the run's stdin and stderr as passed descriptors. The server
answers `pid N` once the run is forked and `exit CODE` (as Popen's returncode: -9 for SIGKILL) once
it has ended; an empty datagram stops it.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import traceback
from datetime import date
from pathlib import Path

# What a run imports on its first call, imported once here for every forked run (0.2 s of CPU each):
# the holiday calendars, pandera's polars backends, pyarrow's datasets (DuckDB's frames), numpy.ma.
import holidays
import numpy.ma  # noqa: F401
import pandera.backends.polars.builtin_checks  # noqa: F401
import pandera.backends.polars.components  # noqa: F401
import pandera.backends.polars.container  # noqa: F401
import pyarrow.compute  # noqa: F401
import pyarrow.dataset  # noqa: F401

from flows.settlement import run_settlement_date

REQUEST_BYTES = 65536


def serve(channel: socket.socket) -> None:
    """Forks one run for each request on `channel`, answering its pid and then its exit code, until an empty request."""
    while True:
        message, descriptors, _, _ = socket.recv_fds(channel, REQUEST_BYTES, 2)
        if not message:
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            _run_forked(channel, request, *descriptors)
        for descriptor in descriptors:
            os.close(descriptor)
        channel.send(f"pid {pid}".encode())
        _, status = os.waitpid(pid, 0)
        channel.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())


def _run_forked(channel: socket.socket, request: dict, stdin: int, stderr: int) -> None:
    """The forked run: `run_settlement_date` with the request's arguments and environment; exits as `python -c` would."""
    channel.close()
    os.dup2(stdin, 0)
    os.dup2(stderr, 2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.close(stdin)
    os.close(stderr)
    os.environ.update(request["environment"])
    settlement_date, inbox, database = request["arguments"]
    code = 0
    try:
        run_settlement_date(date.fromisoformat(settlement_date), Path(inbox), Path(database))
    except BaseException:  # as an uncaught exception ends an interpreter: its traceback, exit code 1
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    # Not sys.exit: the server's exit handlers and buffers are not the run's to flush.
    os._exit(code)


if __name__ == "__main__":
    holidays.country_holidays("JP")  # imports every country's calendar module: pure Python, no thread
    # The forked runs share the imported objects' pages: a collection walking them would copy them in each.
    gc.freeze()
    serve(socket.socket(fileno=int(sys.argv[1])))
