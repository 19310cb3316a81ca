"""App JWTs and installation tokens are checked as GitHub checks them."""

from __future__ import annotations

import json
import time
from typing import Any

import gidgethub
import jwt
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.auth import generate_key_pair
from tests.fakes.github import ROUTE_TABLES, FakeGitHub
from tests.fakes.permissions import REQUIRED
from tests.fakes_tests.conftest import REPO, installation_token


def _jwt(
    fake: FakeGitHub, *, iss: object = None, lifetime: int = 540, key: bytes | None = None
) -> str:
    now = int(time.time())
    claims = {
        "iat": now - 60,
        "exp": now + lifetime,
        "iss": str(fake.app_id) if iss is None else iss,
    }
    # Signed as raw JSON: PyJWT 2.10+ refuses to encode an integer ``iss`` at all.
    payload = json.dumps(claims).encode()
    return jwt.api_jws.PyJWS().encode(payload, key or fake.private_key_pem, algorithm="RS256")


async def test_app_jwt_reads_the_app_and_its_installations(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    app = await gh.getitem("/app", jwt=app_jwt)
    assert (app["id"], app["slug"]) == (fake_github.app_id, "greenlight")
    installations = [i async for i in gh.getiter("/app/installations", jwt=app_jwt)]
    assert [i["account"]["login"] for i in installations] == ["octo"]


async def test_client_id_is_accepted_as_issuer(fake_github: FakeGitHub, gh: GitHubAPI) -> None:
    app = await gh.getitem("/app", jwt=_jwt(fake_github, iss=fake_github.github_app.client_id))
    assert app["id"] == fake_github.app_id


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda fake: _jwt(fake, iss=fake.app_id), id="integer-iss"),
        pytest.param(lambda fake: _jwt(fake, lifetime=11 * 60), id="exp-over-10-minutes"),
        pytest.param(lambda fake: _jwt(fake, lifetime=-5), id="expired"),
        pytest.param(lambda fake: _jwt(fake, key=generate_key_pair()[0]), id="bad-signature"),
        pytest.param(lambda fake: _jwt(fake, iss="999"), id="unknown-app"),
        pytest.param(lambda fake: "not.a.jwt", id="garbage"),
    ],
)
async def test_bad_app_jwts_get_401(fake_github: FakeGitHub, gh: GitHubAPI, make_token) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/app", jwt=make_token(fake_github))
    assert raised.value.status_code == 401
    assert [v.kind for v in fake_github.take_violations()] == ["auth"]


async def test_installation_token_is_long_and_expires_in_an_hour(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    data = await gh.post(
        f"/app/installations/{installation.id}/access_tokens", data=b"", jwt=app_jwt
    )
    assert len(data["token"]) > 40
    token = fake_github.world.tokens[data["token"]]
    remaining = (token.expires_at - fake_github.now()).total_seconds()
    assert 3590 < remaining <= 3600


@pytest.mark.parametrize("scheme", ["token", "Bearer", "bearer"])
async def test_token_works_with_either_scheme(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str, scheme: str
) -> None:
    data = await gh.getitem(
        "/repos/octo/hello", extra_headers={"Authorization": f"{scheme} {token}"}
    )
    assert data["full_name"] == "octo/hello"


async def test_expired_or_unknown_token_gets_401(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    await gh.getitem("/repos/octo/hello", oauth_token=token)
    fake_github.advance_clock(3601)
    for value in (token, "ghs_unknown"):
        with pytest.raises(gidgethub.BadRequest) as raised:
            await gh.getitem("/repos/octo/hello", oauth_token=value)
        assert raised.value.status_code == 401
    assert [v.kind for v in fake_github.take_violations()] == ["auth", "auth"]


async def test_shorter_token_life_can_be_set(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str
) -> None:
    from datetime import timedelta

    fake_github.token_lifetime = timedelta(seconds=30)
    token = await installation_token(fake_github, gh, repo)
    fake_github.advance_clock(31)
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem("/repos/octo/hello", oauth_token=token)
    fake_github.take_violations()


async def test_repo_endpoints_need_a_token(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/repos/octo/hello")
    assert raised.value.status_code == 401
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem("/repos/octo/hello", jwt=app_jwt)
    assert [v.kind for v in fake_github.take_violations()] == ["auth", "auth"]


async def test_token_reaches_only_the_installations_repositories(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    fake_github.create_repo("octo/other")
    fake_github.create_repo("elsewhere/private", install=False)
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    url = f"/app/installations/{installation.id}/access_tokens"
    narrowed = await gh.post(url, data={"repositories": ["hello"]}, jwt=app_jwt)
    assert [r["full_name"] for r in narrowed["repositories"]] == ["octo/hello"]
    await gh.getitem("/repos/octo/hello", oauth_token=narrowed["token"])
    for full_name in ("octo/other", "elsewhere/private"):
        with pytest.raises(gidgethub.BadRequest) as raised:
            await gh.getitem(f"/repos/{full_name}", oauth_token=narrowed["token"])
        assert raised.value.status_code == 404


async def scoped_token(
    gh: GitHubAPI, fake: FakeGitHub, app_jwt: str, body: object
) -> dict[str, Any]:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    url = f"/app/installations/{installation.id}/access_tokens"
    return dict(await gh.post(url, data=body, jwt=app_jwt))


async def test_a_token_narrowed_to_one_repository_and_contents_read(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    fake_github.create_repo("octo/other")
    hello = fake_github.repo(repo)
    body = {"repository_ids": [hello.id], "permissions": {"contents": "read"}}
    created = await scoped_token(gh, fake_github, app_jwt, body)
    assert created["permissions"] == {"contents": "read", "metadata": "read"}
    assert created["repository_selection"] == "selected"
    assert [r["id"] for r in created["repositories"]] == [hello.id]
    recorded = fake_github.world.tokens[created["token"]]
    assert (recorded.repositories, recorded.permissions) == (
        ["octo/hello"],
        {"contents": "read", "metadata": "read"},
    )
    token = created["token"]
    readme = await gh.getitem("/repos/octo/hello/contents/README.md", oauth_token=token)
    assert readme["name"] == "README.md"
    await gh.getitem("/repos/octo/hello", oauth_token=token)  # metadata comes with it


async def test_a_contents_read_token_cannot_write_or_reach_another_repository(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    fake_github.create_repo("octo/other")
    body = {"repository_ids": [fake_github.repo(repo).id], "permissions": {"contents": "read"}}
    token = (await scoped_token(gh, fake_github, app_jwt, body))["token"]
    sha = fake_github.repo(repo).git.branch_sha("main")
    check_run = {"name": "forged", "head_sha": sha}
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post("/repos/octo/hello/check-runs", data=check_run, oauth_token=token)
    assert (raised.value.status_code, str(raised.value)) == (
        403,
        "Resource not accessible by integration",
    )
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/repos/octo/hello/pulls", oauth_token=token)
    assert raised.value.status_code == 403
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem("/repos/octo/other/contents/README.md", oauth_token=token)
    assert raised.value.status_code == 404
    assert fake_github.check_runs(repo, sha) == []
    fake_github.take_violations()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"permissions": {"workflows": "write"}}, id="a-permission-not-granted"),
        pytest.param({"permissions": {"administration": "write"}}, id="more-than-granted"),
        pytest.param({"repository_ids": [987654321]}, id="an-unknown-repository"),
        pytest.param({"repositories": ["not-installed"]}, id="a-repository-not-covered"),
    ],
)
async def test_a_token_cannot_be_wider_than_its_installation(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str, body: object
) -> None:
    with pytest.raises(gidgethub.BadRequest) as raised:
        await scoped_token(gh, fake_github, app_jwt, body)
    assert raised.value.status_code == 422
    fake_github.take_violations()


async def test_an_unnarrowed_token_has_the_apps_permissions(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    created = await scoped_token(gh, fake_github, app_jwt, {})
    assert created["permissions"] == fake_github.github_app.permissions
    fake_github.github_app.permissions.pop("checks")
    token = (await scoped_token(gh, fake_github, app_jwt, {}))["token"]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem(f"/repos/{repo}/commits/main/check-runs", oauth_token=token)
    assert raised.value.status_code == 403


def test_every_route_a_token_can_call_names_the_permission_it_needs() -> None:
    handled = {key for table in ROUTE_TABLES for key in table.routes.handlers}
    token_routes = {key for key in handled if key[1].startswith("/repos/")}
    assert token_routes == set(REQUIRED)


async def test_suspended_installation_cannot_get_tokens(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, app_jwt: str
) -> None:
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    fake_github.suspend(installation.id)
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post(f"/app/installations/{installation.id}/access_tokens", data=b"", jwt=app_jwt)
    assert raised.value.status_code == 403


async def test_manifest_code_converts_once_into_a_working_app(
    fake_github: FakeGitHub, gh: GitHubAPI
) -> None:
    fake_github.add_manifest_code("abc123", {"name": "My Greenlight"})
    created = await gh.post("/app-manifests/{code}/conversions", {"code": "abc123"}, data=b"")
    assert created["slug"] == "my-greenlight"
    assert created["webhook_secret"]
    assert created["pem"].startswith("-----BEGIN")
    app_jwt = jwt.encode(
        {"iat": int(time.time()) - 60, "exp": int(time.time()) + 500, "iss": str(created["id"])},
        created["pem"],
        algorithm="RS256",
    )
    assert (await gh.getitem("/app", jwt=app_jwt))["id"] == created["id"]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post("/app-manifests/{code}/conversions", {"code": "abc123"}, data=b"")
    assert raised.value.status_code == 404
