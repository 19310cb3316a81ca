"""Webhooks of FakeGitHub: configuration, explicit sends, builders and emitted events.

``send`` delivers a payload now and returns the receiver's status. Changes made through
the API (merges, check runs, statuses, comments…) ``emit`` the events GitHub would send,
in order, from a background task; ``await fake.settle()`` waits for them.
"""

# The mixins annotate ``self`` as the FakeGitHub they are part of, so their bodies are
# type-checked against it; mypy cannot prove that class relation for a mixin ([misc]).
# mypy: disable-error-code="misc"

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tests.fakes.delivery import Delivery, WebhookTarget
from tests.fakes.gitrepo import FileSpec
from tests.fakes.state import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    IssueComment,
    Repo,
    User,
    suite_status,
)

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

Json = Any


class EventsMixin:
    """Webhook side of FakeGitHub (``self`` is the FakeGitHub)."""

    def configure_webhooks(
        self: FakeGitHub,
        url: str,
        secret: str,
        *,
        events: Iterable[str] | None = None,
        also: Iterable[str] = (),
    ) -> None:
        """Deliver to ``url`` signed with ``secret`` (only ``events`` when given); with
        ``also``, to ``url`` and those URLs in turn, as a round-robin balancer would."""
        self.outbox.target = WebhookTarget(
            url,
            secret,
            self.app_id,
            events=frozenset(events) if events is not None else None,
            also=tuple(also),
        )

    @property
    def deliveries(self: FakeGitHub) -> list[Delivery]:
        """Every delivery made or queued, in order."""
        return self.outbox.deliveries

    async def send(
        self: FakeGitHub, event: str, payload: Json, *, delivery_id: str | None = None
    ) -> int:
        """POST one delivery now (same ``delivery_id`` = a redelivery); return the status."""
        return await self.outbox.send(event, payload, delivery_id)

    def emit(self: FakeGitHub, event: str, build: Callable[[], Json]) -> None:
        """Queue a delivery GitHub would make, built now (skipped until webhooks are set up)."""
        if self.outbox.wants(event):
            self.outbox.emit(event, build())

    async def settle(self: FakeGitHub) -> None:
        """Wait until every emitted delivery has been answered."""
        await self.outbox.settle()

    # ------------------------------------------------------------------ payload builders

    def pull_request_event(
        self: FakeGitHub, action: str, repo: str, number: int, **options: Any
    ) -> Json:
        """``pull_request`` payload (options: sender, label, before, after)."""
        return self.payloads.pull_request(action, repo, number, **options)

    def push_event(
        self: FakeGitHub,
        repo: str,
        branch: str,
        before: str,
        after: str,
        *,
        sender: str | None = None,
    ) -> Json:
        """``push`` payload for ``before..after`` on ``branch``."""
        return self.payloads.push(repo, branch, before, after, sender=sender)

    def issue_comment_event(self: FakeGitHub, repo: str, number: int, user: str, body: str) -> Json:
        """A person comments on a PR: records the comment and returns ``issue_comment`` created."""
        comment = self._add_comment(
            self.repo(repo).full_name, number, self.world.user(user), body, None
        )
        return self.payloads.issue_comment(comment, "created", None)

    def issue_comment_edited_event(self: FakeGitHub, comment_id: int, body: str) -> Json:
        """A person edits a comment: updates it and returns ``issue_comment`` edited."""
        comment = self.world.comments[comment_id]
        old, comment.body, comment.updated_at = comment.body, body, self.now_iso()
        return self.payloads.issue_comment(comment, "edited", old)

    def check_run_event(
        self: FakeGitHub,
        action: str,
        check_run_id: int,
        requested_action_identifier: str | None = None,
        *,
        sender: str | None = None,
    ) -> Json:
        """``check_run`` payload (``requested_action`` needs the button's identifier)."""
        return self.payloads.check_run(
            action, check_run_id, identifier=requested_action_identifier, sender=sender
        )

    def check_suite_event(
        self: FakeGitHub, action: str, suite_id: int, *, sender: str | None = None
    ) -> Json:
        """``check_suite`` payload."""
        return self.payloads.check_suite(action, suite_id, sender=sender)

    def review_event(
        self: FakeGitHub, action: str, review_id: int, *, sender: str | None = None
    ) -> Json:
        """``pull_request_review`` payload (submitted / dismissed)."""
        return self.payloads.review(action, review_id, sender=sender)

    def status_event(self: FakeGitHub, status_id: int) -> Json:
        """``status`` payload."""
        return self.payloads.status(status_id)

    def installation_event(
        self: FakeGitHub, action: str, installation_id: int, *, sender: str | None = None
    ) -> Json:
        """``installation`` payload (created / deleted / suspend / unsuspend)."""
        return self.payloads.installation(action, installation_id, sender=sender)

    def installation_repositories_event(
        self: FakeGitHub,
        action: str,
        installation_id: int,
        repos: list[str],
        *,
        sender: str | None = None,
    ) -> Json:
        """``installation_repositories`` payload (added / removed)."""
        return self.payloads.installation_repositories(
            action, installation_id, repos, sender=sender
        )

    def merge_group_event(
        self: FakeGitHub, repo: str, number: int, *, sender: str | None = None
    ) -> Json:
        """``merge_group`` checks_requested: makes the queue branch's merge commit in git."""
        return self.payloads.merge_group(repo, number, sender=sender)

    def ping_event(self: FakeGitHub) -> Json:
        """``ping`` payload of an App hook."""
        return self.payloads.ping()

    async def push(
        self: FakeGitHub,
        repo: str,
        branch: str,
        files: Mapping[str, FileSpec],
        *,
        message: str = "Update files",
        author: str | None = None,
    ) -> str:
        """A person pushes a commit: ``push`` then ``synchronize`` for open PRs; return the SHA."""
        target = self.repo(repo)
        before = target.git.branch_sha(branch)
        after = self.commit(repo, branch, files, message=message, author=author)
        sender = author or target.owner.login
        await self.send(
            "push", self.push_event(repo, branch, before or "0" * 40, after, sender=sender)
        )
        for pr in list(self.world.pulls.values()):
            if pr.head_repo == target.full_name and pr.head_ref == branch and pr.state == "open":
                payload = self.pull_request_event(
                    "synchronize", pr.repo, pr.number, sender=sender, before=before, after=after
                )
                await self.send("pull_request", payload)
        return after

    # ------------------------------------------------------------------ changes through the API

    def suite_for(self: FakeGitHub, repo: Repo, sha: str, app_id: int) -> CheckSuite:
        """The app's check suite for a commit (created on first use)."""
        for suite in self.world.check_suites.values():
            if (suite.repo, suite.head_sha, suite.app_id) == (repo.full_name, sha, app_id):
                return suite
        branch = next((b for b, tip in repo.git.branches().items() if tip == sha), None)
        now = self.now_iso()
        suite = CheckSuite(self.world.next_id(), repo.full_name, sha, branch, app_id, now, now)
        self.world.check_suites[suite.id] = suite
        return suite

    def check_run_changed(
        self: FakeGitHub, run: CheckRun, *, created: bool, was_completed: bool
    ) -> None:
        """Emit ``check_run`` created/completed and ``check_suite`` completed as they happen."""
        suite = self.world.check_suites[run.suite_id]
        suite.updated_at = self.now_iso()
        if created:
            self.emit("check_run", lambda: self.payloads.check_run("created", run.id))
        if run.status == "completed" and not was_completed:
            self.emit("check_run", lambda: self.payloads.check_run("completed", run.id))
            if suite_status(self.world.suite_runs(suite.id))[0] == "completed":
                self.emit("check_suite", lambda: self.payloads.check_suite("completed", suite.id))

    def record_status(
        self: FakeGitHub,
        repo: Repo,
        sha: str,
        *,
        state: str,
        context: str,
        creator: User,
        description: str | None = None,
        target_url: str | None = None,
    ) -> CommitStatus:
        """Store a commit status and emit ``status``."""
        status = CommitStatus(
            self.world.next_id(),
            repo.full_name,
            sha,
            state,
            context,
            creator,
            description,
            target_url,
            self.now_iso(),
        )
        self.world.statuses.append(status)
        self.emit("status", lambda: self.payloads.status(status.id))
        return status

    def record_comment(
        self: FakeGitHub, repo: str, number: int, user: User, body: str, *, app_id: int | None
    ) -> IssueComment:
        """Store a comment posted through the API and emit ``issue_comment`` created."""
        comment = self._add_comment(repo, number, user, body, app_id)
        self.emit("issue_comment", lambda: self.payloads.issue_comment(comment, "created", None))
        return comment

    def edit_comment(self: FakeGitHub, comment_id: int, body: str) -> None:
        """Change a comment through the API and emit ``issue_comment`` edited."""
        comment = self.world.comments[comment_id]
        old, comment.body, comment.updated_at = comment.body, body, self.now_iso()
        self.emit("issue_comment", lambda: self.payloads.issue_comment(comment, "edited", old))

    def _add_comment(
        self: FakeGitHub, repo: str, number: int, user: User, body: str, app_id: int | None
    ) -> IssueComment:
        now = self.now_iso()
        comment = IssueComment(self.world.next_id(), repo, number, user, body, app_id, now, now)
        self.world.comments[comment.id] = comment
        return comment
