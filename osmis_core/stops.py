"""The stop signals (Ctrl-C, SIGTERM) that the `osmis` command raised as an interrupt, and their raising.

A signal handler runs wherever the main thread is, and the code it lands in can swallow its exception (C code that
clears errors: torch.save's pickler did). What was raised is recorded here, below every module that writes, so that
the command raises it again at its next safe point: the events of a training or a batch, its end, and the swap that
would put a finished folder in place of the one a stopped command must leave unchanged (files.swap_dir_in). Only the
command's handlers record (osmis_core.cli); the record is cleared when the command ends, so nothing called after it
in the same process (a library user's call, the next command) meets a stop it did not get."""

from __future__ import annotations

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that the same clean-up runs."""


_RAISED: list[int] = []


def raise_stop(signum: int) -> None:
    """Abort the command on stop signal `signum`: Terminated for SIGTERM, KeyboardInterrupt for SIGINT. Nothing is
    raised while an abort is already being cleaned up (a staging folder removed, a temporary file deleted, a lock let
    go, the closing sentence printed): Ctrl-C pressed again and again would stop that clean-up half way and leave
    what it was removing (or end in a traceback); the abort under way ends the command all the same."""
    _RAISED.append(signum)
    if isinstance(sys.exc_info()[1], (KeyboardInterrupt, GeneratorExit)) and len(_RAISED) > 1:
        return  # a generator is closed (GeneratorExit) when the abort leaves the loop that drove it
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def raise_stop_again() -> None:
    """Raise the interrupt of a stop signal raised earlier in this command whose exception was swallowed where it
    landed; nothing when none was, nor in the clean-up of the abort it started (that abort is under way)."""
    if _RAISED and not isinstance(sys.exc_info()[1], (KeyboardInterrupt, GeneratorExit)):
        raise Terminated if _RAISED[0] == signal.SIGTERM else KeyboardInterrupt


def stop_raised() -> int | None:
    """The stop signal first raised as an interrupt in this command, or None."""
    return _RAISED[0] if _RAISED else None


def clear_stops() -> None:
    """Forget the stops raised: at a command's start and end."""
    _RAISED.clear()
