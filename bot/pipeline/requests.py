"""What a trigger asks the pipeline to build, read from a webhook payload."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildRequest:
    repo: str
    repo_id: int  # GitHub's id of `repo`: what the token that fetches its code is scoped to
    installation_id: int
    clone_url: str
    sha: str
    event: str  # "push" | "pull_request" | "merge_group"
    ref: str  # the branch built (the PR's head branch for pull requests)
    base_ref: str = ""
    before_sha: str = ""  # what `paths` compares against
    pr_number: int | None = None
    commit_message: str | None = None  # None: read it from git
    author: str = ""
    author_association: str = "OWNER"
    is_fork: bool = False
    default_branch: str = "main"
