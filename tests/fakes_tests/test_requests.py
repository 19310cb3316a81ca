"""Requests GitHub would reject are answered as GitHub would and recorded as violations."""

from __future__ import annotations

from typing import Any

import aiohttp
import gidgethub
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub

Json = Any
CHECK_RUNS = "/repos/octo/hello/check-runs"


def _run(**extra: Json) -> Json:
    return {"name": "ci", "head_sha": "", **extra}


async def _post_run(fake: FakeGitHub, gh: GitHubAPI, token: str, body: Json) -> Json:
    body = {**body, "head_sha": fake.repo("octo/hello").git.branch_sha("main")}
    return await gh.post(CHECK_RUNS, data=body, oauth_token=token)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_run(conclution="success"), "'conclution' was unexpected"),
        (_run(status="done"), "status"),
        (_run(output={"title": "t", "summary": "s", "sumary": "x"}), "'sumary' was unexpected"),
        (_run(output={"title": "t", "summary": "s" * 65536}), "summary"),
        # 32,768 characters, 65,536 bytes: GitHub counts bytes ("maximum bytesize")
        (_run(output={"title": "t", "summary": "é" * 32768}), "summary exceeds a maximum bytesize"),
        (_run(output={"title": "t", "summary": "s", "text": "界" * 21846}), "text exceeds"),
        (
            _run(
                output={
                    "title": "t",
                    "summary": "s",
                    "annotations": [
                        {
                            "path": "a.py",
                            "start_line": 1,
                            "end_line": 1,
                            "annotation_level": "warning",
                            "message": "m",
                        }
                    ]
                    * 51,
                }
            ),
            "annotations",
        ),
        (
            _run(
                actions=[
                    {"label": "l", "description": "d", "identifier": f"i{n}"} for n in range(4)
                ]
            ),
            "actions",
        ),
        (_run(actions=[{"label": "x" * 21, "description": "d", "identifier": "i"}]), "label"),
        (_run(actions=[{"label": "l", "description": "x" * 41, "identifier": "i"}]), "description"),
        (_run(actions=[{"label": "l", "description": "d", "identifier": "x" * 21}]), "identifier"),
        (_run(status="completed"), "conclusion is required"),
        (_run(conclusion="stale"), "stale"),
        (_run(output={"title": "only a title"}), "summary"),
    ],
)
async def test_invalid_check_run_bodies_get_422_and_a_violation(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str, body: Json, reason: str
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await _post_run(fake_github, gh, token, body)
    assert raised.value.status_code == 422
    violations = fake_github.take_violations()
    assert len(violations) == 1
    assert reason in " ".join(violations[0].messages)
    assert not fake_github.check_runs("octo/hello")


async def test_a_valid_check_run_with_every_limit_reached_is_accepted(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    annotation = {
        "path": "a.py",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "warning",
        "message": "m",
    }
    actions = [
        {"label": "x" * 20, "description": "d" * 40, "identifier": f"{n}" * 20} for n in range(3)
    ]
    output = {"title": "t", "summary": "s" * 65535, "annotations": [annotation] * 50}
    run = await _post_run(fake_github, gh, token, _run(output=output, actions=actions))
    assert run["output"]["annotations_count"] == 50


async def test_unencoded_slash_in_a_ref_does_not_match_the_template(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    fake_github.create_branch("octo/hello", "feature/x")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.delete("/repos/octo/hello/git/refs/heads/feature/x", oauth_token=token)
    assert raised.value.status_code == 404
    [violation] = fake_github.take_violations()
    assert violation.kind == "route"
    await gh.delete(
        "/repos/{owner}/{repo}/git/refs/{ref}",
        {"owner": "octo", "repo": "hello", "ref": "heads/feature/x"},
        oauth_token=token,
    )
    assert fake_github.repo("octo/hello").deleted_branches == ["feature/x"]


async def test_an_endpoint_outside_the_subset_is_a_violation(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem("/repos/octo/hello/issues", oauth_token=token)
    assert [v.kind for v in fake_github.take_violations()] == ["route"]


async def test_a_wrong_query_parameter_type_is_a_violation(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/repos/octo/hello/pulls?per_page=many", oauth_token=token)
    assert raised.value.status_code == 422
    assert [v.kind for v in fake_github.take_violations()] == ["request"]


async def test_body_that_is_not_json_is_a_400_violation(
    fake_github: FakeGitHub, session: aiohttp.ClientSession, token: str
) -> None:
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    async with session.post(
        fake_github.base_url + CHECK_RUNS, data=b"{nope", headers=headers
    ) as response:
        assert response.status in {400, 422}
    assert fake_github.take_violations()


async def test_missing_resources_are_404_but_not_violations(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/repos/octo/hello/pulls/99", oauth_token=token)
    assert raised.value.status_code == 404
    assert fake_github.violations == []


async def test_fixture_fails_the_test_when_violations_remain(tmp_path: Any) -> None:
    fake = FakeGitHub(tmp_path)
    fake.violations.append(
        __import__("tests.fakes.server", fromlist=["Violation"]).Violation(
            "request", "GET", "/x", 422, ["bad"]
        )
    )
    with pytest.raises(AssertionError, match="GET /x"):
        fake.assert_no_violations()
