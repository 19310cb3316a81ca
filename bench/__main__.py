"""`python -m bench NAME [options]`: run Greenlight's benchmarks (`python -m bench help`)."""

from __future__ import annotations

import sys

USAGE = """usage: python -m bench [intake | pipeline | recovery | rollback | scale | all] [options]

  intake     webhook intake: the app against a bare aiohttp handler and gidgethub
  pipeline   webhook to first in_progress check, executor overhead, cached checkout
  recovery   restart to first in_progress of a missed pull request; a pass's API requests
  rollback   a failing health check to the previous release's success, over its own work
  scale      jobs on one and two Celery workers, intake on one and two web replicas
             (needs PostgreSQL and Redis on 127.0.0.1; not part of all)
  all        intake, pipeline and recovery (the default), each with its default options

`python -m bench.logs` (issue 14: a 50 MB log's page, 100 readers of a running log),
`python -m bench.deploy` and `python -m bench.api_requests` run on their own.

`python -m bench NAME --help` lists the options.
"""


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "all"
    rest = argv[1:]
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command in ("intake", "all"):
        from bench import intake

        intake.main(rest if command == "intake" else [])
    if command in ("pipeline", "all"):
        from bench import pipeline

        pipeline.main(rest if command == "pipeline" else [])
    if command in ("recovery", "all"):
        from bench import recovery

        recovery.main(rest if command == "recovery" else [])
    if command == "rollback":
        from bench import rollback

        rollback.main(rest)
    if command == "scale":
        from bench import scale

        scale.main(rest)
    if command not in ("intake", "pipeline", "recovery", "rollback", "scale", "all"):
        print(f"unknown benchmark {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
