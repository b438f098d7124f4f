"""The `osmis` command's entry point (setup.cfg's console script, and `python -m osmis_core`).

Loading the CLI takes a few tenths of a second; a Ctrl-C in that time would be a KeyboardInterrupt traceback through
the import machinery, where the command answers every later Ctrl-C with one sentence. So the CLI is loaded here,
under that answer, by a module that imports nothing of osmis's own before it."""

from __future__ import annotations

import sys


def main() -> int:
    """Load osmis_core.cli and run its main(); a Ctrl-C while it loads: one sentence on stderr and exit code 130."""
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted: osmis stopped before it began; nothing was written", file=sys.stderr)
        return 130
    return cli_main()
