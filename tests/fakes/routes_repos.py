"""Repository, contents, compare, permissions, protection, rules and refs."""

from __future__ import annotations

import re

from aiohttp import web

from tests.fakes.gitrepo import ZERO_SHA
from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import ROLE_PERMISSION

routes = RouteTable()


def wants(call: Call, media: str) -> bool:
    """Whether Accept asks for a custom media type: ``application/vnd.github[.v3].raw[+json]``."""
    pattern = rf"application/vnd\.github(\.v3)?\.{media}\b"
    return re.search(pattern, call.request.headers.get("Accept", "")) is not None


@routes.add("get", "/repos/{owner}/{repo}")
async def get_repo(call: Call) -> web.StreamResponse:
    """The repository."""
    return json_response(call.r.full_repository(call.repo))


@routes.add("get", "/repos/{owner}/{repo}/contents/{path}")
async def get_contents(call: Call) -> web.StreamResponse:
    """A file (base64) or directory listing at ``ref``; raw bytes on request."""
    repo, path = call.repo, call.params["path"].strip("/")
    ref = call.query.get("ref") or repo.default_branch
    sha = repo.git.resolve(ref)
    found = repo.git.object_at(sha, path) if sha else None  # one git process, not three
    if sha is None or found is None:
        raise ApiError(404, "Not Found")
    kind, blob, data = found
    if kind == "tree":
        return json_response(call.r.content_directory(repo, ref, repo.git.list_dir(sha, path)))
    if wants(call, "raw"):
        return web.Response(body=data, content_type="application/vnd.github.raw")
    return json_response(call.r.content_file(repo, ref, path, data, blob))


@routes.add("get", "/repos/{owner}/{repo}/compare/{basehead}")
async def compare(call: Call) -> web.StreamResponse:
    """Compare two commits (``base...head``; either may be ``owner:branch``)."""
    repo = call.repo
    base_ref, separator, head_ref = call.params["basehead"].partition("...")
    if not separator:
        raise ApiError(404, "Not Found")
    base, head = _resolve_side(call, base_ref), _resolve_side(call, head_ref)
    merge_base = repo.git.merge_base(base, head)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    if wants(call, "diff"):
        return web.Response(
            text=repo.git.diff(merge_base, head), content_type="application/vnd.github.diff"
        )
    ahead = repo.git.commits_between(base, head)
    behind = repo.git.commits_between(head, base)
    status = (
        "identical"
        if not ahead and not behind
        else "ahead"
        if not behind
        else "behind"
        if not ahead
        else "diverged"
    )
    api = f"{call.r.repo_api(repo.full_name)}/compare/{base_ref}...{head_ref}"
    html = f"https://github.com/{repo.full_name}/compare/{base_ref}...{head_ref}"
    body = {
        "url": api,
        "html_url": html,
        "permalink_url": f"https://github.com/{repo.full_name}/compare/{base[:7]}...{head[:7]}",
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": call.r.commit(repo, repo.git.commit_info(base)),
        "merge_base_commit": call.r.commit(repo, repo.git.commit_info(merge_base)),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [call.r.commit(repo, repo.git.commit_info(sha)) for sha in ahead],
        "files": [
            call.r.diff_entry(repo, head, c) for c in repo.git.changed_files(merge_base, head)
        ],
    }
    return json_response(body)


def _resolve_side(call: Call, ref: str) -> str:
    """A compare side: a ref of this repository, or ``owner:branch`` of a fork."""
    repo = call.repo
    if ":" in ref:
        owner, branch = ref.split(":", 1)
        source = call.fake.world.repo(f"{owner}/{repo.name}")
        sha = source.git.branch_sha(branch) if source else None
        if source is not None and sha is not None and source is not repo:
            repo.git.fetch(source.git, sha, f"refs/fake/compare/{sha}")
    else:
        sha = repo.git.resolve(ref)
    if sha is None:
        raise ApiError(404, "Not Found")
    return sha


@routes.add("get", "/repos/{owner}/{repo}/collaborators/{username}/permission")
async def collaborator_permission(call: Call) -> web.StreamResponse:
    """A user's permission (``permission`` is the legacy value, ``role_name`` the role)."""
    repo, login = call.repo, call.params["username"]
    user = call.fake.world.users.get(login)
    if user is None:
        raise ApiError(404, f"{login} is not a user")
    if user.login == repo.owner.login:
        role = "admin"
    else:
        role = repo.collaborators.get(user.login, "none" if repo.private else "read")
    body = {
        "permission": ROLE_PERMISSION[role],
        "role_name": role,
        "user": {**call.r.user(user), "role_name": role},
    }
    return json_response(body)


@routes.add("get", "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks")
async def protection_checks(call: Call) -> web.StreamResponse:
    """Required status checks of a protected branch (404 when not protected)."""
    repo, branch = call.repo, call.params["branch"]
    checks = repo.protection.get(branch)
    if repo.git.branch_sha(branch) is None:
        raise ApiError(404, "Branch not found")
    if checks is None:
        raise ApiError(404, "Branch not protected")
    url = f"{call.r.repo_api(repo.full_name)}/branches/{branch}/protection/required_status_checks"
    body = {
        "url": url,
        "strict": checks.strict,
        "contexts": list(checks.contexts),
        "contexts_url": f"{url}/contexts",
        "checks": [{"context": context, "app_id": None} for context in checks.contexts],
    }
    return json_response(body)


@routes.add("get", "/repos/{owner}/{repo}/rules/branches/{branch}")
async def branch_rules(call: Call) -> web.StreamResponse:
    """Active ruleset rules for a branch: the required status checks rule, if any."""
    repo = call.repo
    checks = repo.rulesets.get(call.params["branch"])
    rules = []
    if checks is not None:
        rules.append(
            {
                "type": "required_status_checks",
                "parameters": {
                    "required_status_checks": [{"context": c} for c in checks.contexts],
                    "strict_required_status_checks_policy": checks.strict,
                    "do_not_enforce_on_create": False,
                },
                "ruleset_source_type": "Repository",
                "ruleset_source": repo.full_name,
                "ruleset_id": 42,
            }
        )
    return call.fake.paginate(call, rules)


@routes.add("delete", "/repos/{owner}/{repo}/git/refs/{ref}")
async def delete_ref(call: Call) -> web.StreamResponse:
    """Delete ``heads/<branch>`` or ``tags/<tag>``; a deleted branch emits ``push``."""
    repo, ref = call.repo, call.params["ref"]
    full_ref = f"refs/{ref}"
    sha = repo.git.resolve(full_ref) if ref.startswith(("heads/", "tags/")) else None
    if sha is None:
        raise ApiError(422, "Reference does not exist")
    if ref == f"heads/{repo.default_branch}":
        raise ApiError(422, "Cannot delete the default branch")
    repo.git.delete_ref(full_ref)
    if ref.startswith("heads/"):
        branch = ref.removeprefix("heads/")
        repo.deleted_branches.append(branch)
        call.fake.emit(
            "push",
            lambda: call.fake.payloads.push(
                repo.full_name, branch, sha, ZERO_SHA, sender=call.actor.login
            ),
        )
    return web.Response(status=204)


@routes.add("get", "/repos/{owner}/{repo}/git/ref/{ref}")
async def get_ref(call: Call) -> web.StreamResponse:
    """One reference (``heads/<branch>`` or ``tags/<tag>``) and the commit it points at."""
    repo, ref = call.repo, call.params["ref"]
    sha = repo.git.resolve(f"refs/{ref}") if ref.startswith(("heads/", "tags/")) else None
    if sha is None:
        raise ApiError(404, "Not Found")
    api = call.r.repo_api(repo.full_name)
    body = {
        "ref": f"refs/{ref}",
        "node_id": f"REF_{repo.id}_{ref}",
        "url": f"{api}/git/refs/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }
    return json_response(body)
