"""`python -m bot [serve|run|check]`: the service, a local pipeline run, a config check."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

USAGE = """usage: python -m bot [serve | run [PATH] [--job NAME] | check [PATH]]

  serve   start the service (the default)
  run     run a checkout's pipeline locally, without GitHub
  check   check a config file and print what is wrong
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and not args[0].startswith("-") else "serve"
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command == "serve":
        from bot.serve import serve

        return serve(args)
    if command == "run":
        from bot.cli.run import main as run_main

        return run_main(args)
    if command == "check":
        from bot.cli.check import main as check_main

        return check_main(args)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
