"""JSON representations of the fake's state, in the shapes GitHub's REST API returns.

Each object starts from a minimal valid instance of its schema (``spec.skeleton``) or, for
repositories, from a real payload's repository object with its URLs rewritten; then the
fake's state fills in every field a client could act on.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from tests.fakes import spec
from tests.fakes.gitrepo import CommitInfo, FileChange, TreeEntry
from tests.fakes.state import (
    ROLE_PERMISSION,
    App,
    Installation,
    IssueComment,
    Reaction,
    Repo,
    Review,
    User,
    World,
)

Json = Any
WEB_URL = "https://github.com"
FIXTURES = spec.SPEC_PATH.parent.parent / "webhooks"


@functools.cache
def _repository_template() -> str:
    payload = json.loads((FIXTURES / "pull_request.opened.json").read_text(encoding="utf-8"))
    return json.dumps(payload["repository"])


def node_id(kind: str, number: int) -> str:
    """A GitHub-looking global node id."""
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


class Renderer:
    """Builds REST representations; ``api_url`` is where the fake is served."""

    def __init__(self, world: World, api_url: str, *, git_over_http: bool = False) -> None:
        self.world = world
        self.api_url = api_url.rstrip("/")
        self.git_over_http = git_over_http

    def clone_url(self, repo: Repo) -> str:
        """Where git fetches from: the fake over HTTP, or the bare repository's path."""
        return f"{self.api_url}/{repo.full_name}.git" if self.git_over_http else repo.clone_url

    def repo_api(self, full_name: str) -> str:
        """``<api>/repos/owner/name``."""
        return f"{self.api_url}/repos/{full_name}"

    # ------------------------------------------------------------------ accounts and apps

    def user(self, user: User) -> Json:
        """simple-user."""
        api, login = f"{self.api_url}/users/{user.login}", user.login
        return {
            "login": login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{WEB_URL}/{login}" if user.type != "Bot" else f"{WEB_URL}/apps/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def app(self, app: App) -> Json:
        """integration."""
        return {
            **spec.skeleton("integration"),
            "id": app.id,
            "client_id": app.client_id,
            "slug": app.slug,
            "node_id": node_id("App", app.id),
            "owner": self.user(app.owner),
            "name": app.name,
            "description": f"{app.name} (fake)",
            "external_url": f"https://{app.slug}.example.com",
            "html_url": f"{WEB_URL}/apps/{app.slug}",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": dict(app.permissions),
            "events": list(app.events),
        }

    def installation(self, installation: Installation) -> Json:
        """installation (as listed by ``GET /app/installations``)."""
        app = self.world.apps[installation.app_id]
        return {
            "id": installation.id,
            "account": self.user(installation.account),
            "repository_selection": "all" if installation.repositories is None else "selected",
            "access_tokens_url": f"{self.api_url}/app/installations/{installation.id}"
            "/access_tokens",
            "repositories_url": f"{self.api_url}/installation/repositories",
            "html_url": f"{WEB_URL}/settings/installations/{installation.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "client_id": app.client_id,
            "target_id": installation.account.id,
            "target_type": installation.account.type,
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "created_at": installation.created_at,
            "updated_at": installation.created_at,
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": installation.suspended_at,
        }

    # ------------------------------------------------------------------ repositories

    def repository(self, repo: Repo) -> Json:
        """repository (as embedded in pull requests and webhook payloads)."""
        text = _repository_template()
        for old, new in (
            ("https://api.github.com/repos/Codertocat/Hello-World", self.repo_api(repo.full_name)),
            ("github.com/Codertocat/Hello-World", f"github.com/{repo.full_name}"),
            ("github.com:Codertocat/Hello-World", f"github.com:{repo.full_name}"),
        ):
            text = text.replace(old, new)
        data: Json = json.loads(text)
        parent = self.world.repo(repo.fork_of) if repo.fork_of else None
        data.update(
            id=repo.id,
            node_id=node_id("Repository", repo.id),
            name=repo.name,
            full_name=repo.full_name,
            owner=self.user(repo.owner),
            private=repo.private,
            visibility="private" if repo.private else "public",
            fork=parent is not None,
            default_branch=repo.default_branch,
            clone_url=self.clone_url(repo),
            created_at=repo.created_at,
            updated_at=repo.created_at,
            pushed_at=repo.created_at,
            allow_merge_commit=True,
            allow_squash_merge=True,
            allow_rebase_merge=True,
            delete_branch_on_merge=False,
        )
        data.pop("custom_properties", None)
        return data

    def full_repository(self, repo: Repo) -> Json:
        """full-repository (``GET /repos/{owner}/{repo}``)."""
        data = {**spec.skeleton("full-repository"), **self.repository(repo)}
        data.update(network_count=0, subscribers_count=0, has_discussions=False)
        if repo.fork_of and (parent := self.world.repo(repo.fork_of)):
            data["parent"] = data["source"] = self.repository(parent)
        return data

    def minimal_repository(self, repo: Repo) -> Json:
        """minimal-repository (keys of ``repository`` that the minimal schema lists)."""
        keys = spec.spec_document()["components"]["schemas"]["minimal-repository"]["properties"]
        return {k: v for k, v in self.repository(repo).items() if k in keys}

    def content_file(self, repo: Repo, ref: str, path: str, data: bytes, sha: str) -> Json:
        """content-file: base64 in lines of 60 characters, as GitHub sends it."""
        encoded = base64.b64encode(data).decode()
        lines = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
        entry = self._content_entry(repo, ref, path, "file", sha, len(data))
        return {**entry, "content": lines + "\n" if lines else "", "encoding": "base64"}

    def content_directory(self, repo: Repo, ref: str, entries: list[TreeEntry]) -> Json:
        """content-directory: one item per entry."""
        kinds = {"blob": "file", "tree": "dir", "commit": "submodule"}
        return [
            self._content_entry(repo, ref, e.path, kinds[e.kind], e.sha, e.size) for e in entries
        ]

    def _content_entry(
        self, repo: Repo, ref: str, path: str, kind: str, sha: str, size: int
    ) -> Json:
        api = f"{self.repo_api(repo.full_name)}/contents/{path}?ref={ref}"
        git = f"{self.repo_api(repo.full_name)}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
        html = f"{WEB_URL}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
        raw = f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}"
        return {
            "type": kind,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": size,
            "url": api,
            "git_url": git,
            "html_url": html,
            "download_url": raw if kind == "file" else None,
            "_links": {"self": api, "git": git, "html": html},
        }

    # ------------------------------------------------------------------ commits and diffs

    def commit(self, repo: Repo, info: CommitInfo) -> Json:
        """commit (as listed in comparisons)."""
        api = self.repo_api(repo.full_name)
        return {
            "url": f"{api}/commits/{info.sha}",
            "sha": info.sha,
            "node_id": node_id("Commit", int(info.sha[:8], 16)),
            "html_url": f"{WEB_URL}/{repo.full_name}/commit/{info.sha}",
            "comments_url": f"{api}/commits/{info.sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{info.sha}",
                "author": {**_identity(info.author), "date": _z(info.author_date)},
                "committer": {**_identity(info.committer), "date": _z(info.committer_date)},
                "message": info.message,
                "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
                "comment_count": 0,
            },
            "author": None,
            "committer": None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/commits/{p}",
                    "html_url": f"{WEB_URL}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
        }

    def simple_commit(self, info: CommitInfo) -> Json:
        """simple-commit (head_commit of suites and push payloads)."""
        return {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": _z(info.committer_date),
            "author": _identity(info.author),
            "committer": _identity(info.committer),
        }

    def diff_entry(self, repo: Repo, head_sha: str, change: FileChange) -> Json:
        """diff-entry."""
        api, web = self.repo_api(repo.full_name), f"{WEB_URL}/{repo.full_name}"
        entry: Json = {
            "sha": change.sha,
            "filename": change.filename,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
            "blob_url": f"{web}/blob/{head_sha}/{change.filename}",
            "raw_url": f"{web}/raw/{head_sha}/{change.filename}",
            "contents_url": f"{api}/contents/{change.filename}?ref={head_sha}",
        }
        if change.patch is not None:
            entry["patch"] = change.patch
        if change.previous_filename is not None:
            entry["previous_filename"] = change.previous_filename
        return entry

    # ------------------------------------------------------------------ conversations

    def comment(self, comment: IssueComment) -> Json:
        """issue-comment."""
        api = self.repo_api(comment.repo)
        app = self.world.apps.get(comment.app_id) if comment.app_id else None
        return {
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{WEB_URL}/{comment.repo}/pull/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "issue_url": f"{api}/issues/{comment.issue_number}",
            "author_association": "NONE" if app else self.association(comment.repo, comment.user),
            "performed_via_github_app": self.app(app) if app else None,
            "reactions": self.reaction_rollup(comment),
        }

    def reaction_rollup(self, comment: IssueComment) -> Json:
        """reaction-rollup of a comment."""
        contents = [r.content for r in self.world.reactions if r.comment_id == comment.id]
        keys = {"+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"}
        rollup: Json = {key: contents.count(key) for key in keys}
        rollup.update(
            url=f"{self.repo_api(comment.repo)}/issues/comments/{comment.id}/reactions",
            total_count=len(contents),
        )
        return rollup

    def reaction(self, reaction: Reaction) -> Json:
        """reaction."""
        return {
            "id": reaction.id,
            "node_id": node_id("Reaction", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": reaction.created_at,
        }

    def association(self, full_name: str, user: User) -> str:
        """author_association of ``user`` in a repository."""
        repo = self.world.repos[full_name.lower()]
        if repo.owner.login == user.login:
            return "OWNER"
        role = repo.collaborators.get(user.login, "none")
        return "COLLABORATOR" if ROLE_PERMISSION[role] in {"admin", "write"} else "CONTRIBUTOR"

    def review(self, review: Review) -> Json:
        """pull-request-review."""
        api = self.repo_api(review.repo)
        html = f"{WEB_URL}/{review.repo}/pull/{review.pull_number}"
        return {
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "commit_id": review.commit_id,
            "submitted_at": review.submitted_at,
            "html_url": f"{html}#pullrequestreview-{review.id}",
            "pull_request_url": f"{api}/pulls/{review.pull_number}",
            "author_association": self.association(review.repo, review.user),
            "_links": {
                "html": {"href": html},
                "pull_request": {"href": f"{api}/pulls/{review.pull_number}"},
            },
        }


def _identity(identity: Any) -> Json:
    return {"name": identity.name, "email": identity.email}


def _z(git_date: str) -> str:
    """git's ``2024-01-01T00:00:00+00:00`` as GitHub's ``2024-01-01T00:00:00Z``."""
    return git_date.replace("+00:00", "Z")
