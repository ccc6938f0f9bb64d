"""Owner ids of running runs (`hostname:pid:random`) and telling whether an owner is gone."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path


def new_owner_id() -> str:
    """A fresh owner id for this process: `hostname:pid:random`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_gone(owner: str | None) -> bool:
    """True when `owner` names a process on this host that no longer runs.

    Owners on other hosts (or ids in another format) are never judged here:
    only a stale heartbeat tells that they stopped.
    """
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child that its parent has not waited for yet still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
