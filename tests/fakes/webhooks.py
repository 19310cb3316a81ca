"""Webhook payloads: the real published examples, filled in with the fake's state.

Every builder loads ``tests/fixtures/webhooks/<event>.<action>.json`` and replaces the
objects that describe the world (repository, pull request, sender, installation…) with
this fake's, so the keys the app does not read stay as GitHub sends them.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from tests.fakes import render_checks
from tests.fakes.gitrepo import ZERO_SHA, FileChange
from tests.fakes.pulls import label_json, pull_json
from tests.fakes.render import FIXTURES, WEB_URL, node_id
from tests.fakes.state import Installation, IssueComment, PullRequest, Repo, User

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

Json = Any
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
PUSH_COMMIT_LIMIT = 20  # push payloads list at most 20 commits


@functools.cache
def _fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def fixture(name: str) -> Json:
    """A fresh copy of a published example payload (``pull_request.opened``, ``push``…)."""
    return json.loads(_fixture_text(name))


class Payloads:
    """Builders for the events Greenlight handles."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def _start(self, name: str, repo: Repo | None, sender: User) -> Json:
        payload = fixture(name)
        r = self.fake.renderer()
        payload["sender"] = r.user(sender)
        payload.pop("organization", None)
        if repo is not None:
            # Keys only some events carry (push: ``stargazers``…) stay as published.
            payload["repository"] = {**payload.get("repository", {}), **r.repository(repo)}
            installation = self.fake.world.installation_for(repo.full_name, self.fake.app_id)
            if installation is not None:
                payload["installation"] = {
                    "id": installation.id,
                    "node_id": node_id("Installation", installation.id),
                }
            if repo.owner.type == "Organization":
                payload["organization"] = _organization(r.user(repo.owner))
        return payload

    def pull_request(
        self,
        action: str,
        repo: str,
        number: int,
        *,
        sender: str | None = None,
        label: str | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> Json:
        """``pull_request`` (opened, synchronize, closed, labeled, reopened…)."""
        pr = self.fake.pull(repo, number)
        name = f"pull_request.{action}"
        template = name if (FIXTURES / f"{name}.json").exists() else "pull_request.opened"
        payload = self._start(template, self.fake.repo(repo), self._user(sender, pr.user))
        payload.update(action=action, number=number)
        payload["pull_request"] = pull_json(self.fake.renderer(), pr)
        if action in {"labeled", "unlabeled"}:
            payload["label"] = label_json(self.fake.renderer(), pr.repo, label or pr.labels[-1])
        if action == "synchronize":
            payload.update(before=before or pr.head_sha, after=after or pr.head_sha)
        return payload

    def push(
        self, repo: str, ref: str, before: str, after: str, *, sender: str | None = None
    ) -> Json:
        """``push`` of ``before..after`` to ``ref`` (a branch name or a full ref)."""
        target = self.fake.repo(repo)
        full_ref = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        user = self._user(sender, target.owner)
        payload = self._start("push", target, user)
        commits = [self._push_commit(target, sha) for sha in self._pushed(target, before, after)]
        payload.update(
            ref=full_ref,
            before=before,
            after=after,
            created=before == ZERO_SHA,
            deleted=after == ZERO_SHA,
            forced=before != ZERO_SHA
            and after != ZERO_SHA
            and not target.git.is_ancestor(before, after),
            base_ref=None,
            compare=f"{WEB_URL}/{target.full_name}/compare/{before[:12]}...{after[:12]}",
            commits=commits[-PUSH_COMMIT_LIMIT:],
            head_commit=commits[-1] if commits else None,
            pusher={
                "name": user.login,
                "email": f"{user.id}+{user.login}@users.noreply.github.com",
            },
        )
        # Push payloads carry Unix timestamps here, unlike every other event.
        payload["repository"].update(created_at=1557933565, pushed_at=1557933565)
        payload["repository"]["master_branch"] = target.default_branch
        return payload

    def _pushed(self, repo: Repo, before: str, after: str) -> list[str]:
        if after == ZERO_SHA:
            return []
        if before == ZERO_SHA:
            others = [f"^{sha}" for sha in repo.git.branches().values() if sha != after]
            return repo.git.git("rev-list", "--reverse", after, *others).split()
        return repo.git.commits_between(before, after)

    def _push_commit(self, repo: Repo, sha: str) -> Json:
        info = repo.git.commit_info(sha)
        changes = repo.git.changed_files(info.parents[0] if info.parents else EMPTY_TREE, sha)
        simple = self.fake.renderer().simple_commit(info)
        return {
            **simple,
            "distinct": True,
            "url": f"{WEB_URL}/{repo.full_name}/commit/{sha}",
            "added": _named(changes, "added"),
            "removed": _named(changes, "removed"),
            "modified": _named(changes, "modified", "renamed"),
        }

    def issue_comment(self, comment: IssueComment, action: str, old_body: str | None) -> Json:
        """``issue_comment`` on a pull request."""
        pr = self.fake.pull(comment.repo, comment.issue_number)
        r = self.fake.renderer()
        payload = self._start(f"issue_comment.{action}", self.fake.repo(comment.repo), comment.user)
        payload["action"] = action
        payload["comment"] = r.comment(comment)
        payload["issue"].update(_issue(self.fake, pr))
        if action == "edited":
            payload["changes"] = {"body": {"from": old_body or ""}}
        return payload

    def check_run(
        self, action: str, run_id: int, *, identifier: str | None = None, sender: str | None = None
    ) -> Json:
        """``check_run`` created / completed / rerequested / requested_action."""
        run = self.fake.world.check_runs[run_id]
        app_bot = self.fake.world.apps[run.app_id].bot
        payload = self._start(
            f"check_run.{action}", self.fake.repo(run.repo), self._user(sender, app_bot)
        )
        payload["action"] = action
        check_run = render_checks.check_run_json(self.fake.renderer(), run)
        suite = self.fake.world.check_suites[run.suite_id]
        check_run["check_suite"] = render_checks.check_suite_json(self.fake.renderer(), suite)
        payload["check_run"] = check_run
        if action == "requested_action":
            payload["requested_action"] = {"identifier": identifier or ""}
        return payload

    def check_suite(self, action: str, suite_id: int, *, sender: str | None = None) -> Json:
        """``check_suite`` completed / rerequested."""
        suite = self.fake.world.check_suites[suite_id]
        app_bot = self.fake.world.apps[suite.app_id].bot
        payload = self._start(
            f"check_suite.{action}", self.fake.repo(suite.repo), self._user(sender, app_bot)
        )
        payload["action"] = action
        payload["check_suite"] = render_checks.check_suite_json(self.fake.renderer(), suite)
        return payload

    def review(self, action: str, review_id: int, *, sender: str | None = None) -> Json:
        """``pull_request_review`` submitted / dismissed."""
        review = next(r for r in self.fake.world.reviews if r.id == review_id)
        pr = self.fake.pull(review.repo, review.pull_number)
        user = self._user(sender, review.user)
        payload = self._start(f"pull_request_review.{action}", self.fake.repo(review.repo), user)
        payload["action"] = action
        payload["review"] = self.fake.renderer().review(review)
        payload["pull_request"] = pull_json(self.fake.renderer(), pr, simple=True)
        return payload

    def status(self, status_id: int) -> Json:
        """``status`` for a commit status."""
        status = next(s for s in self.fake.world.statuses if s.id == status_id)
        repo = self.fake.repo(status.repo)
        payload = self._start("status", repo, status.creator)
        info = repo.git.commit_info(status.sha)
        r = self.fake.renderer()
        containing = [
            {
                "name": branch,
                "commit": {"sha": sha, "url": f"{r.repo_api(repo.full_name)}/commits/{sha}"},
                "protected": branch in repo.protection,
            }
            for branch, sha in repo.git.branches().items()
            if repo.git.is_ancestor(status.sha, sha)
        ]
        payload.update(
            id=status.id,
            sha=status.sha,
            name=repo.full_name,
            target_url=status.target_url,
            context=status.context,
            description=status.description,
            state=status.state,
            commit=r.commit(repo, info),
            branches=containing[:10],
            created_at=status.created_at,
            updated_at=status.created_at,
        )
        return payload

    def installation(self, action: str, installation_id: int, *, sender: str | None = None) -> Json:
        """``installation`` created / deleted / suspend / unsuspend."""
        installation = self.fake.world.installations[installation_id]
        payload = self._start(
            f"installation.{action}", None, self._user(sender, installation.account)
        )
        payload["action"] = action
        payload["installation"] = self.fake.renderer().installation(installation)
        if "repositories" in payload:
            payload["repositories"] = [_repo_ref(repo) for repo in self._covered(installation)]
        return payload

    def installation_repositories(
        self,
        action: str,
        installation_id: int,
        repos: list[str],
        *,
        sender: str | None = None,
    ) -> Json:
        """``installation_repositories`` added / removed."""
        installation = self.fake.world.installations[installation_id]
        name = f"installation_repositories.{action}"
        payload = self._start(name, None, self._user(sender, installation.account))
        payload["action"] = action
        payload["installation"] = self.fake.renderer().installation(installation)
        listed = [_repo_ref(self.fake.repo(full_name)) for full_name in repos]
        payload["repositories_added"] = listed if action == "added" else []
        payload["repositories_removed"] = listed if action == "removed" else []
        payload["repository_selection"] = "all" if installation.repositories is None else "selected"
        return payload

    def merge_group(self, repo: str, number: int, *, sender: str | None = None) -> Json:
        """``merge_group`` checks_requested: creates the merge-queue branch with real git."""
        pr = self.fake.pull(repo, number)
        target = self.fake.repo(repo)
        base_sha = target.git.branch_sha(pr.base_ref) or ""
        tree = target.git.merge_tree(base_sha, pr.head_sha)
        message = f"Merge pull request #{number} from {pr.head_repo.split('/')[0]}/{pr.head_ref}"
        author = self.fake.identity(pr.user)
        head_sha = target.git.commit_tree(
            tree, [base_sha, pr.head_sha], f"{message}\n\n{pr.title}", author
        )
        branch = f"gh-readonly-queue/{pr.base_ref}/pr-{number}-{base_sha}"
        target.git.set_ref(f"refs/heads/{branch}", head_sha)
        payload = self._start("merge_group.checks_requested", target, self._user(sender, pr.user))
        payload["merge_group"] = {
            "head_sha": head_sha,
            "head_ref": f"refs/heads/{branch}",
            "base_sha": base_sha,
            "base_ref": f"refs/heads/{pr.base_ref}",
            "head_commit": self.fake.renderer().simple_commit(target.git.commit_info(head_sha)),
        }
        return payload

    def ping(self) -> Json:
        """``ping``, sent when a hook is created."""
        payload = fixture("ping")
        payload["hook_id"] = payload["hook"]["id"] = self.fake.outbox_hook_id()
        payload["hook"].update(type="App", app_id=self.fake.app_id)
        payload["sender"] = self.fake.renderer().user(self.fake.github_app.owner)
        payload.pop("repository", None)
        return payload

    def _user(self, login: str | None, default: User) -> User:
        return self.fake.world.user(login) if login else default

    def _covered(self, installation: Installation) -> list[Repo]:
        return [
            repo
            for repo in self.fake.world.repos.values()
            if self.fake.world.installation_for(repo.full_name, installation.app_id) is installation
        ]


def _issue(fake: FakeGitHub, pr: PullRequest) -> Json:
    """The ``issue`` fields of a pull request, as in ``issue_comment`` payloads."""
    r = fake.renderer()
    data = pull_json(r, pr, simple=True)
    issue_api = f"{r.repo_api(pr.repo)}/issues/{pr.number}"
    return {
        "url": issue_api,
        "repository_url": r.repo_api(pr.repo),
        "labels_url": f"{issue_api}/labels{{/name}}",
        "comments_url": f"{issue_api}/comments",
        "events_url": f"{issue_api}/events",
        "html_url": data["html_url"],
        "id": pr.id,
        "node_id": node_id("PullRequest", pr.id),
        "number": pr.number,
        "title": pr.title,
        "user": data["user"],
        "labels": data["labels"],
        "state": pr.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": sum(
            1
            for c in fake.world.comments.values()
            if (c.repo, c.issue_number) == (pr.repo, pr.number)
        ),
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
        "closed_at": pr.closed_at,
        "author_association": data["author_association"],
        "draft": pr.draft,
        "body": pr.body,
        "pull_request": {
            "url": data["url"],
            "html_url": data["html_url"],
            "diff_url": data["diff_url"],
            "patch_url": data["patch_url"],
            "merged_at": pr.merged_at,
        },
    }


def _named(changes: list[FileChange], *statuses: str) -> list[str]:
    return [change.filename for change in changes if change.status in statuses]


def _repo_ref(repo: Repo) -> Json:
    return {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def _organization(user: Json) -> Json:
    api = user["url"].replace("/users/", "/orgs/")
    return {
        "login": user["login"],
        "id": user["id"],
        "node_id": user["node_id"],
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": user["avatar_url"],
        "description": None,
    }
