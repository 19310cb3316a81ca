"""Running builds and deploys: workspaces from a git cache, steps as processes.

One path for both kinds of work. The pipeline (a job) and the deployer (a deploy) each
make a `Ticket` (`bot.executor.base`: SHA, steps, environment, secrets, token, timeout,
and the `Target` row its log and conclusion go to) and submit it to the one `Executor`:
`bot.executor.local` (the default) runs it in the service's process tree,
`bot.executor.celery` sends it to a Celery worker (`bot.worker`). Either way the same
`bot.executor.runner.run_ticket` runs it, on two functions with no store, no GitHub and
no globals:

- `bot.executor.workspace.GitCache.checkout(clone_url, sha, dest, token=...)` makes a
  fresh workspace at exactly `sha` from a per-repository cache (a second build of the
  repository does not clone again); `remove_workspace(dest)` deletes it afterwards.
- `bot.executor.process.run_steps(steps, workdir=..., env=..., timeout_seconds=...,
  on_output=..., cancel=..., masker=..., sandbox=...)` runs the steps as `bash -eo
  pipefail` processes, each in a session of its own (in the job's one sandbox, when given
  one: `bot.executor.sandbox`), and returns a `JobOutcome`; output reaches `on_output`
  masked (`bot.core.masking.Masker`), as it streams.

The ticket carries the whole step environment (`PATH`, `HOME`, `CI=true`, `GREENLIGHT_*`
from `bot.core.variables`, the job's env and secrets): `run_steps` passes exactly that and
nothing of the service's own environment. What differs between a job and a deploy is only
where the log and the conclusion are kept (`bot.executor.targets`).
"""
