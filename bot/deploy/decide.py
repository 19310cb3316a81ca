"""The deploy decisions moved to `bot.core.deploy`; the web pages still import these two
from here (bot/web is another change's to update)."""

from bot.core.deploy import PastDeploy, rollback_target

__all__ = ["PastDeploy", "rollback_target"]
