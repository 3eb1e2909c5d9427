"""Runs a child process of the tests as shuno would run where pandas is not installed: `python -m tests.without_pandas -m MODULE ARGS` or `-c CODE ARGS`.

pandera imports pandas whenever it is installed (the `bench` extra installs it for the
benchmarks' comparison), half a second of CPU at each start of an interpreter that imports shuno;
shuno itself never uses pandas. The killed-run tests start dozens of such children; this is
`python -m MODULE` or `python -c CODE` with pandas hidden from the import system first, so that
pandera takes its path for an installation without pandas (pandera.__init__).
"""

from __future__ import annotations

import runpy
import sys
from importlib.abc import MetaPathFinder

# The command that runs the rest of its arguments with pandas hidden; from the repository's root (cwd).
PYTHON_WITHOUT_PANDAS = [sys.executable, "-m", "tests.without_pandas"]


class PandasAbsent(MetaPathFinder):
    """Says pandas is not installed, with the error pandera expects from an installation without it."""

    def find_spec(self, name: str, path=None, target=None):
        """Raises ModuleNotFoundError for pandas and its submodules; None (look further) for any other module."""
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def hide_pandas() -> None:
    """From now on this interpreter imports as one where pandas is not installed (a module that has it already keeps it)."""
    if not any(isinstance(finder, PandasAbsent) for finder in sys.meta_path):
        sys.meta_path.insert(0, PandasAbsent())


def main(arguments: list[str]) -> None:
    """Runs `-m MODULE ARGS` or `-c CODE ARGS` as python would, with pandas hidden."""
    option, target, rest = arguments[0], arguments[1], arguments[2:]
    hide_pandas()
    if option == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    elif option == "-c":
        sys.argv = ["-c", *rest]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
    else:
        raise SystemExit(f"usage: python -m tests.without_pandas -m MODULE ARGS | -c CODE ARGS, not {option}")


if __name__ == "__main__":
    main(sys.argv[1:])
