"""Paths as a repository sees them: what build logs and test reports name, made relative."""

from __future__ import annotations


def repo_relative_path(path: str, *, workspace: str | None = None) -> str | None:
    """`path` relative to the repository root, or None when it points outside it."""
    if workspace and path.startswith(workspace.rstrip("/") + "/"):
        path = path[len(workspace.rstrip("/")) + 1 :]
    if path.startswith(("/", "<")) or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)
