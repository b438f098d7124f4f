"""Start OSMIS Studio with the project's virtual environment: `.venv/bin/python main.py [RUN|DATA]` opens the
desktop app; `.venv/bin/python main.py COMMAND ...` runs the CLI (`--help` lists the commands).

An entry point: the CLI's main sets the CPU thread plan before torch loads (osmis_core/threads.py).
"""

import importlib.util
import sys

from osmis_core.cli import COMMANDS, main

if __name__ == "__main__":
    argv = sys.argv[1:]
    help_only = bool(argv) and argv[0] in ("-h", "--help", "--version")
    if not help_only and importlib.util.find_spec("torch") is None:
        print(
            f"error: {sys.executable} has no torch: start OSMIS Studio with the Python of the environment it "
            "was installed into, e.g. `.venv/bin/python main.py` (see README.md).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
        raise SystemExit(main(argv))
    raise SystemExit(main(["gui", *argv]))
