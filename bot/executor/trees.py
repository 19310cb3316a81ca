"""Removing what a build leaves on disk, whatever modes it gave its files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
from pathlib import Path

logger = logging.getLogger("greenlight.executor")


async def remove_tree(path: Path) -> None:
    """Delete a directory tree, read-only files and directories included; never raises."""
    await asyncio.to_thread(_remove_tree, path)


def _remove_tree(path: Path) -> None:
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # most often read-only directories (Go's module cache makes them)
    _make_writable(path)
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        logger.warning("could not remove workspace %s", path)


def _make_writable(path: Path) -> None:
    for directory, subdirectories, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(directory, stat.S_IRWXU)
        # os.walk lists a directory after this loop body, so it can still be opened.
        for name in subdirectories:
            if not os.path.islink(subdirectory := os.path.join(directory, name)):
                with contextlib.suppress(OSError):
                    os.chmod(subdirectory, stat.S_IRWXU)
