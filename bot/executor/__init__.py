"""Running builds: workspaces from a git cache, steps as processes.

The seam every executor shares is two functions, both plain asyncio with no store, no
GitHub and no globals:

- `bot.executor.workspace.GitCache.checkout(clone_url, sha, dest, token=...)` makes a
  fresh workspace at exactly `sha` from a per-repository cache (a second build of the
  repository does not clone again); `remove_workspace(dest)` deletes it afterwards.
- `bot.executor.process.run_steps(steps, workdir=..., env=..., timeout_seconds=...,
  on_output=..., cancel=..., masker=...)` runs the job's steps as `bash -eo pipefail`
  processes in their own process groups and returns a `JobOutcome`; output reaches
  `on_output` masked (`bot.core.masking.Masker`), as it streams.

The local executor (`bot.executor.local`, the default) calls them in the service's own
process tree. The Celery executor calls the same two functions inside a worker process,
with its own `GitCache` on the worker's disk, and reports output and the outcome back;
so both executors build the same way and pass the same tests. The caller builds the
step environment (`PATH`, `HOME`, `CI=true`, `GREENLIGHT_*`, the job's env and secrets):
`run_steps` passes exactly that and nothing of the service's own environment.
"""
