"""What every part of the running app shares; the services built on it live in `bot.wiring`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.github.client import GitHubApp
from bot.metrics import Metrics
from bot.replica import new_replica_id
from bot.settings import Settings
from bot.store import Store


@dataclass(frozen=True)
class Context:
    settings: Settings
    store: Store
    github: GitHubApp
    metrics: Metrics
    clock: Callable[[], float] = field(default=time.time)
    # This process among the replicas sharing the store (see bot.replica).
    replica_id: str = field(default_factory=new_replica_id)
