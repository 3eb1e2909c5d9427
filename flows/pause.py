"""A test-only hook for the kill tests (tests/flows/test_atomic_runs.py, tests/flows/test_backups.py).

They kill `shuno run`, a restore or a rekey with SIGKILL at each named stage to show that a killed
one leaves the database usable: as before it or as after it. With SHUNO_PAUSE_AT=<stage> the
process announces the stage on stderr and waits for a line on stdin (the test then kills it or
lets it go on); unset, the hook does nothing.
"""

from __future__ import annotations

import os
import sys

PAUSE_VARIABLE = "SHUNO_PAUSE_AT"
# The stages of a run, in order: "backed-up" is the backup's copy written, not yet renamed.
PAUSE_STAGES = ("backed-up", "loaded", "derived", "written", "before-commit", "committed")
# The stages of a restore and of a rekey: the new file written beside the database, not yet in its place;
# the rekeyed database in its place, the new key not yet.
RESTORE_STAGE = "restore-copied"
REKEY_STAGES = ("rekey-copied", "rekey-swapped")


def pause_point(stage: str) -> None:
    """Waits for a line on stdin when SHUNO_PAUSE_AT names `stage` (the kill test's hook); otherwise returns at once."""
    if os.environ.get(PAUSE_VARIABLE) != stage:
        return
    print(f"shuno: paused at {stage} ({PAUSE_VARIABLE})", file=sys.stderr, flush=True)
    sys.stdin.readline()
