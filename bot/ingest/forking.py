"""What every fork of a one-shot poll does: when it may fork, what before, and the child's tie.

A `briefbot poll` forks its downloads' child (bot/ingest/prefetch.py) once
it has read its configuration, then its parse workers (bot/ingest/forkparse.py)
once the parser is imported. This module is the rules both follow; it imports
only the standard library, so that the downloads' fork waits for none of the
parse pool's imports.

- Only on Linux and only while the process has one thread: forking a process
  with threads can copy a lock some thread holds (`can_fork_workers`).
- Just before forking, the objects made so far (the modules, the
  configuration) are moved out of the collector's reach (`gc.freeze`, as
  CPython's documentation advises before a fork): a child's collections would
  otherwise walk them all, writing to every page it shares with the poll
  (copied, then). stdout and stderr are flushed, so that nothing buffered is
  written twice (`before_fork`).
- A child asks Linux to kill it when the poll dies (PR_SET_PDEATHSIG): it
  shares the poll's stdout and stderr, and a caller reading the poll's output
  to its end would otherwise wait for it (`die_with_parent`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading

__all__ = ["before_fork", "can_fork_workers", "die_with_parent"]

# prctl(2): the signal a process receives when its parent dies.
_PR_SET_PDEATHSIG = 1


def can_fork_workers() -> bool:
    """Whether workers can be forked from this process now: Linux, no other thread."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def before_fork() -> None:
    """What this process does just before it forks a child (see the module docstring)."""
    gc.freeze()
    sys.stdout.flush()
    sys.stderr.flush()


def die_with_parent(parent: int) -> bool:
    """In a forked child: ask Linux to kill it when `parent` dies; False if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent  # else the parent died before the line above
