"""Start OSMIS Studio: `python main.py [RUN|DATA]` opens the desktop app; `python main.py COMMAND ...` runs the CLI.

`python main.py --help` lists the CLI commands.
"""
import sys

from osmis_core.cli import COMMANDS, main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
        raise SystemExit(main(argv))
    raise SystemExit(main(["gui", *argv]))
