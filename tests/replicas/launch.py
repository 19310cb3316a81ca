"""`python -m tests.replicas.launch`: `python -m bot` with GitHub's write pacing lifted.

The pacing (70 writes a minute per installation, `bot.github.pacing`) is not what the
replica tests test, and a burst of ten pull requests in deployment mode makes about 150
writes: paced, the test would mostly wait for the minute to turn.
"""

from __future__ import annotations

import sys

from bot.__main__ import main
from bot.github.pacing import WritePacer

if __name__ == "__main__":
    defaults = WritePacer.__init__.__kwdefaults__
    assert defaults is not None, "the pacer changed: update this"
    assert "limit" in defaults, "the pacer changed: update this"
    defaults["limit"] = 1_000_000
    sys.exit(main())
