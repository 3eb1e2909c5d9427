"""The killed-run tests' bare runs, each forked from one server process that imported shuno once; the server, and the test's end of it.

Every bare `run_settlement_date` the tests kill was a new interpreter importing shuno, about a
second of CPU before the run's own work (a whole run took 2.4 s of CPU in a fresh interpreter here,
1.3 forked from this server, whose start costs 0.8 once). The server (`serve`, started by `RunForks`
as `python -m tests.without_pandas -m tests.flows.forked_runs FD`) forks a run for each request: the
run is still a process of its own, with its own pause hook, stdin and stderr, killed with SIGKILL as
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
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from contextlib import suppress
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

import pytest

from flows.settlement import run_settlement_date
from tests.without_pandas import PYTHON_WITHOUT_PANDAS

ROOT = Path(__file__).resolve().parents[2]
REQUEST_BYTES = 65536
REPLY_BYTES = 64


class ForkedRun:
    """A bare run forked by the module's server, handled as the tests handle a Popen: pid, stdin, stderr, poll, wait, kill, communicate."""

    def __init__(self, channel: socket.socket, pid: int, stdin: int, stderr: int) -> None:
        self.channel, self.pid, self.returncode = channel, pid, None
        self.stdin, self.stderr = os.fdopen(stdin, "wb", buffering=0), os.fdopen(stderr, "rb", buffering=0)

    def poll(self) -> int | None:
        """The exit code once the server has seen the run end, else None."""
        if self.returncode is None and select.select([self.channel], [], [], 0)[0]:
            self.returncode = _exit_code(self.channel.recv(REPLY_BYTES))
        return self.returncode

    def wait(self, timeout: float) -> int:
        """The exit code, waiting up to `timeout` seconds for the run to end."""
        if self.returncode is None:
            if not select.select([self.channel], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"forked run {self.pid}", timeout)
            self.returncode = _exit_code(self.channel.recv(REPLY_BYTES))
        return self.returncode

    def send_signal(self, signal_number: int) -> None:
        # As Popen's: never to an ended run (its pid may be another process's already); the server may
        # have reaped one that ended a moment ago, before its exit code came.
        if self.poll() is None:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal_number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float) -> tuple[None, bytes]:
        """No output (the run's stdout is /dev/null) and everything the run wrote to stderr, once it has ended."""
        deadline = time.monotonic() + timeout
        errors = b""
        if not self.stderr.closed:  # as Popen's, a second call only waits
            self.stdin.close()
            while chunk := _read_until(self.stderr, deadline):
                errors += chunk
            self.stderr.close()
        self.wait(max(0.0, deadline - time.monotonic()))
        return None, errors


class RunForks:
    """A server of bare runs for a test module: one process that imported shuno once, forking a run at each `start`."""

    def __init__(self, environment: dict[str, str], patience: float) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.patience = patience
        command = [*PYTHON_WITHOUT_PANDAS, "-m", __name__, str(theirs.fileno())]
        self.server = subprocess.Popen(command, cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=[theirs.fileno()])
        theirs.close()

    def start(self, arguments: list[str], environment: dict[str, str]) -> ForkedRun:
        """The bare run of `arguments` (date, inbox, database) with `environment` added, forked and running."""
        stdin_read, stdin_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        request = json.dumps({"arguments": arguments, "environment": environment}).encode()
        socket.send_fds(self.channel, [request], [stdin_read, stderr_write])
        os.close(stdin_read)
        os.close(stderr_write)
        if not select.select([self.channel], [], [], self.patience)[0]:
            pytest.fail(f"the server of forked runs did not fork within {self.patience} s (exit {self.server.poll()})")
        reply = self.channel.recv(REPLY_BYTES).decode()
        if not reply.startswith("pid "):
            pytest.fail(f"the server of forked runs answered {reply!r} (exit {self.server.poll()})")
        return ForkedRun(self.channel, int(reply.removeprefix("pid ")), stdin_write, stderr_read)

    def stop(self) -> None:
        self.channel.send(b"")
        assert self.server.wait(timeout=self.patience) == 0
        self.channel.close()


def _exit_code(reply: bytes) -> int:
    if not reply.startswith(b"exit "):
        pytest.fail(f"the server of forked runs answered {reply!r}")
    return int(reply.removeprefix(b"exit "))


def _read_until(stream, deadline: float) -> bytes:
    """The next bytes of `stream`; empty at its end, a failure at `deadline`."""
    if not select.select([stream], [], [], max(0.0, deadline - time.monotonic()))[0]:
        pytest.fail("a forked run did not end in time")
    return os.read(stream.fileno(), 4096)


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
