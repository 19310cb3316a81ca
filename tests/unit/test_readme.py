"""The README speaks of files a clone has: nothing outside the repository, nothing gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `bot/web/app.py`, `tests/fakes/`, `../shared/STYLE.md`: code spans that are paths (and not
# Python names such as `tests/helpers.make_settings`).
PATH_SPAN = re.compile(
    r"`((?:\.\./|\.ci/|bot/|tests/|bench/|scripts/)[\w/-]*(?:\.(?:md|py|ya?ml|toml|json|txt))?)`"
)
LINK = re.compile(r"\]\((?!https?://|#)([^)\s]+)\)")


def test_the_readme_names_only_files_of_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    named = PATH_SPAN.findall(readme) + LINK.findall(readme)
    assert ".ci/run" in named  # the pattern finds what it should
    outside = [path for path in named if path.startswith("../")]
    missing = [path for path in named if not (ROOT / path).exists()]
    assert outside == []
    assert missing == []
