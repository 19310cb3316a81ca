"""Setting up the world for a test, and reading it back.

Setup helpers change state silently (send the matching event yourself with the payload
builders and ``send``); helpers that play *another* app or CI (``add_check_run``,
``add_status``) emit the webhooks GitHub would, like the fake's API does.
"""

# The mixins annotate ``self`` as the FakeGitHub they are part of, so their bodies are
# type-checked against it; mypy cannot prove that class relation for a mixin ([misc]).
# mypy: disable-error-code="misc"

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.fakes.auth import generate_key_pair
from tests.fakes.gitrepo import FileSpec, GitRepo, Identity
from tests.fakes.pulls import identity
from tests.fakes.state import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    Installation,
    IssueComment,
    PullRequest,
    Reaction,
    Repo,
    RequiredChecks,
    Review,
    User,
)

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

Json = Any


class ScenarioMixin:
    """Test-facing helpers of FakeGitHub (``self`` is the FakeGitHub)."""

    # ------------------------------------------------------------------ accounts

    def user(self: FakeGitHub, login: str, *, kind: str = "User") -> User:
        """The account ``login`` (created on first use; ``kind`` User, Organization, Bot)."""
        return self.world.user(login, kind)

    def install(
        self: FakeGitHub, account: str, repos: list[str] | None = None, *, app_id: int | None = None
    ) -> Installation:
        """Install an app on ``account`` for all (None) or the listed repositories."""
        installation = Installation(
            id=self.world.next_id(),
            app_id=app_id or self.app_id,
            account=self.world.user(account),
            repositories=repos,
            created_at=self.now_iso(),
        )
        self.world.installations[installation.id] = installation
        return installation

    def suspend(self: FakeGitHub, installation_id: int) -> None:
        """Suspend an installation: no new tokens (403), existing ones stop working (401)."""
        self.world.installations[installation_id].suspended_at = self.now_iso()

    def uninstall(self: FakeGitHub, installation_id: int) -> None:
        """Remove an installation and revoke its tokens."""
        del self.world.installations[installation_id]
        for value in [
            t.token for t in self.world.tokens.values() if t.installation_id == installation_id
        ]:
            del self.world.tokens[value]

    def identity(self: FakeGitHub, user: User) -> Identity:
        """The git identity of an account."""
        return identity(user)

    # ------------------------------------------------------------------ repositories and git

    def create_repo(
        self: FakeGitHub,
        full_name: str,
        files: Mapping[str, FileSpec] | None = None,
        *,
        default_branch: str = "main",
        private: bool = False,
        install: bool = True,
        owner_kind: str = "User",
    ) -> Repo:
        """A repository with a real bare git repo (one initial commit of ``files``)."""
        owner_login, name = full_name.split("/", 1)
        owner = self.world.user(owner_login, owner_kind)
        git = GitRepo.create(self.root / "git" / owner_login / f"{name}.git", default_branch)
        repo = Repo(
            self.world.next_id(),
            owner,
            name,
            git,
            default_branch,
            private,
            created_at=self.now_iso(),
        )
        self.world.repos[full_name.lower()] = repo
        git.commit(default_branch, dict(files or {}), "Initial commit", identity(owner))
        if install and self.world.installation_for(full_name, self.app_id) is None:
            existing = [
                i
                for i in self.world.installations.values()
                if i.account is owner and i.app_id == self.app_id
            ]
            if existing and existing[0].repositories is not None:
                existing[0].repositories.append(full_name)
            elif not existing:
                self.install(owner_login)
        return repo

    def fork(self: FakeGitHub, full_name: str, owner: str) -> Repo:
        """A fork of ``full_name`` owned by ``owner`` (all branches copied)."""
        parent = self.repo(full_name)
        fork = self.create_repo(
            f"{owner}/{parent.name}", install=False, default_branch=parent.default_branch
        )
        fork.fork_of = parent.full_name
        for branch, sha in parent.git.branches().items():
            fork.git.fetch(parent.git, sha, f"refs/heads/{branch}")
        return fork

    def create_branch(self: FakeGitHub, repo: str, branch: str, from_ref: str | None = None) -> str:
        """Create ``branch`` at ``from_ref`` (default: the default branch); return its SHA."""
        target = self.repo(repo)
        sha = target.git.resolve(from_ref or target.default_branch)
        assert sha is not None, f"no such ref: {from_ref}"
        target.git.set_ref(f"refs/heads/{branch}", sha)
        return sha

    def commit(
        self: FakeGitHub,
        repo: str,
        branch: str,
        files: Mapping[str, FileSpec],
        *,
        message: str = "Update files",
        author: str | None = None,
    ) -> str:
        """Commit ``files`` (None deletes) to ``branch``; open PRs with that head follow."""
        target = self.repo(repo)
        if target.git.branch_sha(branch) is None:
            self.create_branch(repo, branch)
        who = identity(self.world.user(author) if author else target.owner)
        sha = target.git.commit(branch, files, message, who)
        self.move_pull_heads(target, branch, sha)
        return sha

    def move_pull_heads(self: FakeGitHub, repo: Repo, branch: str, sha: str) -> None:
        """Point open PRs whose head is ``repo:branch`` at ``sha`` (``refs/pull/N/head`` too)."""
        for pr in self.world.pulls.values():
            if pr.head_repo == repo.full_name and pr.head_ref == branch and pr.state == "open":
                pr.head_sha, pr.updated_at = sha, self.now_iso()
                self.repo(pr.repo).git.fetch(repo.git, sha, f"refs/pull/{pr.number}/head")

    def read_file(self: FakeGitHub, repo: str, ref: str, path: str) -> bytes | None:
        """A file at a ref of a repository, read with git."""
        return self.repo(repo).git.read_file(ref, path)

    # ------------------------------------------------------------------ pull requests

    def open_pull_request(
        self: FakeGitHub,
        repo: str,
        head: str,
        *,
        base: str | None = None,
        title: str = "Change things",
        body: str | None = None,
        user: str | None = None,
        draft: bool = False,
        head_repo: str | None = None,
        maintainer_can_modify: bool = False,
    ) -> PullRequest:
        """Open a PR from branch ``head`` of ``head_repo`` (default ``repo``; else a fork)."""
        target, source = self.repo(repo), self.repo(head_repo or repo)
        head_sha = source.git.branch_sha(head)
        assert head_sha is not None, f"{source.full_name} has no branch {head}"
        number = self.world.next_number(target.full_name)
        target.git.fetch(source.git, head_sha, f"refs/pull/{number}/head")
        now = self.now_iso()
        pr = PullRequest(
            id=self.world.next_id(),
            number=number,
            repo=target.full_name,
            head_repo=source.full_name,
            head_ref=head,
            head_sha=head_sha,
            base_ref=base or target.default_branch,
            title=title,
            user=self.world.user(user) if user else source.owner,
            body=body,
            draft=draft,
            maintainer_can_modify=maintainer_can_modify,
            created_at=now,
            updated_at=now,
        )
        self.world.pulls[(target.full_name, number)] = pr
        return pr

    def add_review(
        self: FakeGitHub, repo: str, number: int, user: str, state: str = "APPROVED", body: str = ""
    ) -> Review:
        """Submit a review on the PR's current head."""
        pr = self.pull(repo, number)
        review = Review(
            self.world.next_id(),
            pr.repo,
            number,
            self.world.user(user),
            state,
            pr.head_sha,
            body,
            self.now_iso(),
        )
        self.world.reviews.append(review)
        return review

    def dismiss_review(self: FakeGitHub, review_id: int) -> Review:
        """Dismiss a review (its state becomes DISMISSED)."""
        review = next(r for r in self.world.reviews if r.id == review_id)
        review.state = "DISMISSED"
        return review

    def add_label(self: FakeGitHub, repo: str, number: int, name: str) -> None:
        """Label a PR."""
        pr = self.pull(repo, number)
        if name not in pr.labels:
            pr.labels.append(name)

    def remove_label(self: FakeGitHub, repo: str, number: int, name: str) -> None:
        """Remove a label from a PR."""
        self.pull(repo, number).labels.remove(name)

    def set_permission(self: FakeGitHub, repo: str, login: str, role: str) -> None:
        """Give ``login`` a role: admin, maintain, write, triage, read or none."""
        self.world.user(login)
        self.repo(repo).collaborators[login] = role

    def set_required_checks(
        self: FakeGitHub, repo: str, branch: str, contexts: list[str], *, strict: bool = False
    ) -> None:
        """Protect ``branch`` with required status checks."""
        self.repo(repo).protection[branch] = RequiredChecks(list(contexts), strict)

    def set_ruleset_checks(
        self: FakeGitHub, repo: str, branch: str, contexts: list[str], *, strict: bool = False
    ) -> None:
        """Require status checks on ``branch`` through a repository ruleset."""
        self.repo(repo).rulesets[branch] = RequiredChecks(list(contexts), strict)

    def add_manifest_code(self: FakeGitHub, code: str, manifest: Json | None = None) -> None:
        """Accept ``code`` once at ``POST /app-manifests/{code}/conversions``."""
        self.world.manifest_codes[code] = manifest or {"name": "Greenlight"}

    def register_app_from_manifest(self: FakeGitHub, manifest: Json) -> tuple[Any, bytes]:
        """Create the app a manifest describes; return it and its private key PEM."""
        private, public = generate_key_pair()
        app_id = max(self.world.apps) + 1
        slug = str(manifest.get("name", f"app-{app_id}")).lower().replace(" ", "-")
        app = self.add_app(app_id, slug, public)
        app.webhook_secret = f"fake-webhook-secret-{app_id}"
        # Sign-in redirects must go under these, or GitHub refuses them (routes_oauth).
        self.oauth.callback_urls = [str(url) for url in manifest.get("callback_urls", [])]
        return app, private

    # ------------------------------------------------------------------ other apps and CI

    def add_check_run(
        self: FakeGitHub,
        repo: str,
        sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = "success",
        app: str = "other-ci",
    ) -> CheckRun:
        """A check run by another app (created on first use); emits ``check_run`` events."""
        other = next((a for a in self.world.apps.values() if a.slug == app), None)
        other = other or self.add_app(max(self.world.apps) + 1, app, None)
        target = self.repo(repo)
        suite = self.suite_for(target, sha, other.id)
        run = CheckRun(
            self.world.next_id(), target.full_name, sha, name, other.id, suite.id, status=status
        )
        run.started_at = self.now_iso()
        if status == "completed":
            run.conclusion, run.completed_at = conclusion, self.now_iso()
        self.world.check_runs[run.id] = run
        self.check_run_changed(run, created=True, was_completed=False)
        return run

    def add_status(
        self: FakeGitHub,
        repo: str,
        sha: str,
        context: str,
        state: str = "success",
        *,
        creator: str = "other-ci",
    ) -> CommitStatus:
        """A commit status by another CI; emits ``status``."""
        return self.record_status(
            self.repo(repo), sha, state=state, context=context, creator=self.world.user(creator)
        )

    # ------------------------------------------------------------------ reading state back

    def repo(self: FakeGitHub, full_name: str) -> Repo:
        """A repository (KeyError when unknown)."""
        repo = self.world.repo(full_name)
        if repo is None:
            raise KeyError(full_name)
        return repo

    def pull(self: FakeGitHub, repo: str, number: int) -> PullRequest:
        """A pull request (KeyError when unknown)."""
        pr = self.world.pull(self.repo(repo).full_name, number)
        if pr is None:
            raise KeyError((repo, number))
        return pr

    def check_runs(
        self: FakeGitHub,
        repo: str | None = None,
        head_sha: str | None = None,
        *,
        name: str | None = None,
        app_id: int | None = None,
    ) -> list[CheckRun]:
        """Check runs matching every given filter, oldest first."""
        return [
            run
            for run in sorted(self.world.check_runs.values(), key=lambda r: r.id)
            if (repo is None or run.repo.lower() == repo.lower())
            and head_sha in (None, run.head_sha)
            and name in (None, run.name)
            and app_id in (None, run.app_id)
        ]

    def check_suites(self: FakeGitHub, repo: str, head_sha: str | None = None) -> list[CheckSuite]:
        """Check suites of a repository (on a SHA)."""
        return [
            s
            for s in self.world.check_suites.values()
            if s.repo.lower() == repo.lower() and head_sha in (None, s.head_sha)
        ]

    def statuses(self: FakeGitHub, repo: str, sha: str | None = None) -> list[CommitStatus]:
        """Commit statuses, oldest first."""
        return [
            s
            for s in self.world.statuses
            if s.repo.lower() == repo.lower() and sha in (None, s.sha)
        ]

    def comments(self: FakeGitHub, repo: str, number: int | None = None) -> list[IssueComment]:
        """Issue comments, oldest first."""
        found = [
            c
            for c in self.world.comments.values()
            if c.repo.lower() == repo.lower() and number in (None, c.issue_number)
        ]
        return sorted(found, key=lambda c: c.id)

    def reactions(self: FakeGitHub, comment_id: int) -> list[Reaction]:
        """Reactions on a comment."""
        return [r for r in self.world.reactions if r.comment_id == comment_id]

    def reviews(self: FakeGitHub, repo: str, number: int) -> list[Review]:
        """Reviews of a PR, oldest first."""
        return [
            r
            for r in self.world.reviews
            if r.repo.lower() == repo.lower() and r.pull_number == number
        ]

    def deployments(
        self: FakeGitHub, repo: str, environment: str | None = None
    ) -> list[Deployment]:
        """Deployments, oldest first."""
        found = [
            d
            for d in self.world.deployments.values()
            if d.repo.lower() == repo.lower() and environment in (None, d.environment)
        ]
        return sorted(found, key=lambda d: d.id)

    def deployment_statuses(self: FakeGitHub, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of a deployment, oldest first."""
        return [s for s in self.world.deployment_statuses if s.deployment_id == deployment_id]
