"""``/app``, ``/app/installations`` and the manifest flow."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.auth import issue_token
from tests.fakes.permissions import narrow
from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import iso

routes = RouteTable()


@routes.add("get", "/app")
async def get_app(call: Call) -> web.StreamResponse:
    """The authenticated app."""
    assert call.app is not None
    return json_response(call.r.app(call.app))


@routes.add("get", "/app/installations")
async def list_installations(call: Call) -> web.StreamResponse:
    """The app's installations."""
    assert call.app is not None
    installations = [
        call.r.installation(i)
        for i in call.fake.world.installations.values()
        if i.app_id == call.app.id
    ]
    return call.fake.paginate(call, installations)


@routes.add("get", "/app/installations/{installation_id}")
async def get_installation(call: Call) -> web.StreamResponse:
    """One installation of the app; 404 once it was uninstalled."""
    assert call.app is not None
    installation = call.fake.world.installations.get(int(call.params["installation_id"]))
    if installation is None or installation.app_id != call.app.id:
        raise ApiError(404, "Not Found")
    return json_response(call.r.installation(installation))


@routes.add("post", "/app/installations/{installation_id}/access_tokens")
async def create_token(call: Call) -> web.StreamResponse:
    """An installation token, optionally narrowed to some repositories and permissions.

    https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
    """
    assert call.app is not None
    installation = call.fake.world.installations.get(int(call.params["installation_id"]))
    if installation is None or installation.app_id != call.app.id:
        raise ApiError(404, "Not Found")
    if installation.suspended_at is not None:
        raise ApiError(403, "This installation has been suspended")
    names = _requested_repositories(call)
    permissions = dict(call.app.permissions)
    if "permissions" in call.body:
        narrowed = narrow(permissions, call.body["permissions"])
        if narrowed is None:
            raise ApiError(
                422,
                "The permissions requested are not granted to this installation.",
                violation=True,
            )
        permissions = narrowed
    token = issue_token(
        call.fake.world, installation, call.fake.now(), call.fake.token_lifetime, names, permissions
    )
    body = {
        "token": token.token,
        "expires_at": iso(token.expires_at),
        "permissions": dict(token.permissions),
        "repository_selection": "all"
        if names is None and installation.repositories is None
        else "selected",
    }
    if names is not None:
        body["repositories"] = [call.r.repository(call.fake.repo(n)) for n in names]
    return json_response(body, 201)


def _requested_repositories(call: Call) -> list[str] | None:
    world = call.fake.world
    installation = world.installations[int(call.params["installation_id"])]
    names = [f"{installation.account.login}/{name}" for name in call.body.get("repositories", [])]
    by_id = {repo.id: repo.full_name for repo in world.repos.values()}
    names += [by_id.get(repo_id, f"#{repo_id}") for repo_id in call.body.get("repository_ids", [])]
    if not names and "repositories" not in call.body and "repository_ids" not in call.body:
        return None
    for name in names:
        covering = world.installation_for(name, installation.app_id)
        if world.repo(name) is None or covering is not installation:
            raise ApiError(
                422,
                "There is at least one repository that does not exist or is not "
                "accessible to the parent installation.",
                violation=True,
            )
    return [call.fake.repo(name).full_name for name in names]


@routes.add("post", "/app-manifests/{code}/conversions")
async def convert_manifest(call: Call) -> web.StreamResponse:
    """Exchange a manifest code for a new app's id, key and secrets (codes work once)."""
    manifest = call.fake.world.manifest_codes.pop(call.params["code"], None)
    if manifest is None:
        raise ApiError(404, "Not Found")
    app, pem = call.fake.register_app_from_manifest(manifest)
    body = {
        **call.r.app(app),
        "client_secret": f"fake-client-secret-{app.id}",
        "webhook_secret": app.webhook_secret,
        "pem": pem.decode(),
    }
    return json_response(body, 201)
