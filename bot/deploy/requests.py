"""A deploy asked for: what to deploy where, who asked, and what comes after it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import Environment
from bot.store.records import Run


@dataclass(frozen=True)
class DeployRequest:
    run: Run  # Greenlight's build of the SHA: where the code comes from
    environment: Environment
    environments: tuple[Environment, ...]  # the promotion order, from the config used
    chain: tuple[str, ...] = ()  # environments to promote to after this one
    requested_by: str | None = None  # None: automatic
    rollback: bool = False
    pr_number: int | None = None  # the PR a command came from, told too
    live_id: int | None = None  # what was live when it was queued: re-check if it changed

    @property
    def key(self) -> tuple[str, str]:
        return self.run.repo, self.environment.name

    @property
    def automatic(self) -> bool:
        """Sent by the mode (a green build, a promotion), not by a person nor a rollback."""
        return self.requested_by is None and not self.rollback
