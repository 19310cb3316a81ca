"""What every handler gets: the app's services, made once by the app factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.github.client import GitHubApp
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.deploy.service import Deployer
    from bot.pipeline.service import Pipeline


@dataclass
class Context:
    settings: Settings
    store: Store
    github: GitHubApp
    metrics: Metrics
    pipeline: Pipeline | None = None
    deployer: Deployer | None = None
    clock: Callable[[], float] = field(default=time.time)

    def require_pipeline(self) -> Pipeline:
        assert self.pipeline is not None, "the pipeline starts with the app"
        return self.pipeline
