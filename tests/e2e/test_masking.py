"""A job's secret never leaves it in clear: not on GitHub, not in the store, not on a page."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.store.schema import metadata
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import ExecutorUnderTest
from tests.fakes.github import FakeGitHub

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
SECRET = "s3cr3t-Tok3n-4f9a2c"

# `report` writes the secret into every field of a JUnit report and into a `path:line:`
# line; `broken` leaves an unreadable report named after the secret. Both have a step
# whose name holds the secret as written in the config.
JOBS = f"""
jobs:
  report:
    secrets: [API_TOKEN]
    reports: [report.xml]
    steps:
      - name: write a report
        run: |
          cat > report.xml <<XML
          <testsuites><testsuite name="suite-$API_TOKEN" tests="2" failures="1">
          <testcase classname="tests.test_$API_TOKEN" name="test_ok" time="0.1"/>
          <testcase classname="tests.test_$API_TOKEN" name="test_leak_$API_TOKEN"
            file="tests/test_$API_TOKEN.py" line="3" time="0.1">
          <failure message="expected $API_TOKEN">tests/test_$API_TOKEN.py:3: got $API_TOKEN
          </failure></testcase></testsuite></testsuites>
          XML
      - name: check with {SECRET}
        run: 'echo "src/app.py:7: error: bad token $API_TOKEN"; exit 1'
  broken:
    secrets: [API_TOKEN]
    reports: ["reports/*.xml"]
    steps:
      - name: deploy {SECRET}
        run: 'mkdir reports; echo "<not xml" > "reports/$API_TOKEN.xml"; exit 2'
"""


@pytest.fixture
async def greenlight(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest
) -> AsyncIterator[Greenlight]:
    """Greenlight with the repository's API_TOKEN in its secrets file."""
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(f"{REPO}:\n  API_TOKEN: {SECRET}\n")
    server = await start_greenlight(
        fake_github, tmp_path, GREENLIGHT_SECRETS_FILE=str(secrets), **executor.settings
    )
    try:
        yield Greenlight(fake_github, server, tmp_path, executor)
    finally:
        await fake_github.settle()
        await server.close()


async def stored_texts(greenlight: Greenlight) -> list[str]:
    """Every text the store holds, but the config's own text (a job's `spec` quotes it)."""
    texts: list[str] = []
    async with greenlight.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = await connection.execute(sa.select(table))
            for row in rows.mappings():
                texts += [
                    f"{table.name}.{column}: {value}"
                    for column, value in row.items()
                    if (table.name, column) != ("jobs", "spec")
                ]
    return texts


async def page_texts(greenlight: Greenlight, urls: list[str]) -> list[str]:
    texts = []
    async with aiohttp.ClientSession() as session:
        for url in urls:
            page = await session.get(
                greenlight.server.make_url(url.removeprefix("http://greenlight.test"))
            )
            assert page.status == 200, url
            texts.append(await page.text())
    return texts


async def test_a_secret_written_into_reports_annotations_and_step_names_is_masked(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", {CONFIG: textwrap.dedent(JOBS).lstrip("\n")})
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"

    checks = fake.check_runs(REPO, sha)
    assert {check.name for check in checks} == {"report", "broken", "greenlight"}
    for check in checks:
        assert SECRET not in repr(check), check.name
    latest = greenlight.checks(REPO, sha)
    report, broken = latest["report"], latest["broken"]
    # What was masked still arrived, so the assertions above looked at the right places.
    assert report.output["title"].startswith("1 passed, 1 failed")
    assert "test_leak_***" in (report.output["summary"] or "")
    assert "check with ***" in (report.output["summary"] or "")
    messages = {(a["path"], a["start_line"]): a["message"] for a in report.annotations}
    assert "expected ***" in messages[("tests/test_***.py", 3)]
    assert "bad token ***" in messages[("src/app.py", 7)]
    assert broken.output["title"].startswith('Failed at step "deploy ***" (exit 2)')
    assert r"deploy \*\*\*" in (latest["greenlight"].output["summary"] or "")

    assert all(SECRET not in comment.body for comment in fake.comments(REPO))
    stored = await stored_texts(greenlight)
    assert [text for text in stored if SECRET in text] == []
    assert any("reports/***.xml" in text for text in stored)  # the unreadable report's name

    pages = await page_texts(greenlight, [check.details_url or "" for check in checks])
    assert [page for page in pages if SECRET in page] == []
    assert any("check with ***" in page for page in pages)
