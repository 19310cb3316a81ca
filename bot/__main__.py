"""`python -m bot [serve|run|check]`: the service, a local pipeline run, a config check."""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Sequence

COMMANDS = ("serve", "run", "check")
HELP_FLAGS = ("-h", "--help")
USAGE = """usage: python -m bot [serve]
       python -m bot run [PATH] [--job NAME]... [--no-sandbox]
       python -m bot check [PATH]

commands:
  serve   start the service (the default); it reads its settings from the environment
          and from .env in the working directory (PORT, HOST, PUBLIC_URL, DATABASE_URL…)
  run     run a checkout's pipeline locally, without GitHub; PATH is the checkout
          (default .), --job runs only that job and what it needs (repeatable),
          --no-sandbox runs steps without bubblewrap
  check   check a config file and print what is wrong; PATH is the file or a checkout
          holding .github/greenlight.yml (default .)

Add --help after run or check for its options."""


def unknown_command(command: str) -> str:
    """What to say for a command that does not exist, with the closest one."""
    close = difflib.get_close_matches(command, COMMANDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; the commands are {', '.join(COMMANDS)}"
    return f"python -m bot: unknown command {command!r}{hint}\n\n{USAGE}"


def unexpected_arguments(args: Sequence[str]) -> str:
    """What to say when serve, which reads its settings from the environment, gets arguments."""
    return f"python -m bot: serve takes no arguments (got {' '.join(args)})\n\n{USAGE}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and not args[0].startswith("-") else "serve"
    if command == "help" or (command == "serve" and any(arg in HELP_FLAGS for arg in args)):
        print(USAGE)
        return 0
    if command == "serve":
        if args:
            print(unexpected_arguments(args), file=sys.stderr)
            return 2
        from bot.serve import serve

        return serve()
    if command == "run":
        from bot.cli.run import main as run_main

        return run_main(args)
    if command == "check":
        from bot.cli.check import main as check_main

        return check_main(args)
    print(unknown_command(command), file=sys.stderr)
    return 2


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
