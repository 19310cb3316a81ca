"""Freeze windows on the aggregate `greenlight` check: which hold now, and the next one.

When a run completes, its aggregate check's summary gets a paragraph naming the windows in
force (what they hold, when they end) and the next one to begin within `WITHIN_SECONDS`,
from the default branch's tip (where windows are read for merges and deploys: a pull
request cannot lift a freeze by editing it). The conclusion is never changed: a freeze
holds merges and deploys, not the commit's checks. Nothing is written when no window is in
force or coming, so a repository without windows costs no extra write.

It is added to what the summary says (read back from GitHub) rather than rendered with it,
one GET and one PATCH per completed run with windows to show: the aggregate's rendering
(bot/pipeline/reports.py) is another change's to fold it into.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.core.checks import with_freeze_section
from bot.core.freeze import calendar
from bot.repo_config import freeze_windows
from bot.store.records import Run

log = logging.getLogger("greenlight.pipeline")
WITHIN_SECONDS = 7 * 86_400  # how far ahead the next window is shown


class FreezeSummary:
    def __init__(self, context: Context) -> None:
        self._context = context

    async def on_run_completed(self, run: Run) -> None:
        """Show the freeze windows on the run's aggregate check, if any hold or come soon."""
        if run.aggregate_check_id is None or run.installation_id is None:
            return
        client = self._context.github.installation(run.installation_id)
        windows = await freeze_windows(client, run.repo)
        shown = calendar(windows, self._context.clock(), within=WITHIN_SECONDS)
        if shown.is_empty:
            log.debug("no freeze window in force or near for %s of %s", run.sha[:7], run.repo)
            return
        output = await client.check_run_output(run.repo, run.aggregate_check_id)
        body: dict[str, str] = {
            "title": output.title,
            "summary": with_freeze_section(output.summary, shown),
        }
        if output.text is not None:
            body["text"] = output.text  # kept as it is: only the summary changes
        await client.update_check_run(run.repo, run.aggregate_check_id, {"output": body})
        log.info("freeze windows shown on the aggregate check of %s", run.sha[:7])
