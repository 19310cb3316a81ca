"""Pull requests: their JSON, mergeability, required checks, merging and branch updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes import spec
from tests.fakes.gitrepo import GitRepo, Identity, MergeConflict
from tests.fakes.render import WEB_URL, Renderer, node_id
from tests.fakes.state import (
    PASSING_CONCLUSIONS,
    PullRequest,
    Repo,
    RequiredChecks,
    User,
    World,
    latest_per_context,
)

Json = Any
GITHUB_COMMITTER = Identity("GitHub", "noreply@github.com")


class Refused(Exception):
    """GitHub refuses the operation with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class MergeResult:
    """What a merge did to the base branch."""

    before: str
    after: str


def identity(user: User) -> Identity:
    """The git identity GitHub gives an account (noreply address)."""
    return Identity(user.login, f"{user.id}+{user.login}@users.noreply.github.com")


# ---------------------------------------------------------------------- checks on a commit


def check_results(world: World, repo: Repo, sha: str) -> dict[str, bool | None]:
    """Context → passed (True), failed (False) or pending (None), checks and statuses."""
    results: dict[str, bool | None] = {}
    latest: dict[str, Any] = {}
    for run in sorted(world.check_runs.values(), key=lambda r: r.id):
        if run.repo == repo.full_name and run.head_sha == sha:
            latest[run.name] = run
    for name, run in latest.items():
        results[name] = None if run.status != "completed" else run.conclusion in PASSING_CONCLUSIONS
    statuses = [s for s in world.statuses if s.repo == repo.full_name and s.sha == sha]
    for status in latest_per_context(statuses):
        results[status.context] = None if status.state == "pending" else status.state == "success"
    return results


def required_checks(repo: Repo, branch: str) -> RequiredChecks | None:
    """Required checks of a branch from protection and rulesets combined."""
    sources = [
        checks for checks in (repo.protection.get(branch), repo.rulesets.get(branch)) if checks
    ]
    if not sources:
        return None
    contexts = list(dict.fromkeys(c for checks in sources for c in checks.contexts))
    return RequiredChecks(contexts, strict=any(checks.strict for checks in sources))


def unmet_required(world: World, repo: Repo, branch: str, sha: str) -> list[str]:
    """Required contexts that have not passed on ``sha``."""
    required = required_checks(repo, branch)
    results = check_results(world, repo, sha)
    return [c for c in (required.contexts if required else []) if results.get(c) is not True]


def mergeability(world: World, pr: PullRequest) -> tuple[bool | None, str]:
    """(mergeable, mergeable_state) as GitHub reports them."""
    if pr.state != "open":
        return None, "unknown"
    repo = _repo(world, pr.repo)
    base_sha = _base_sha(repo, pr)
    try:
        repo.git.merge_tree(base_sha, pr.head_sha)
    except MergeConflict:
        return False, "dirty"
    required = required_checks(repo, pr.base_ref)
    if pr.draft:
        return True, "draft"
    if required and required.strict and not repo.git.is_ancestor(base_sha, pr.head_sha):
        return True, "behind"
    if unmet_required(world, repo, pr.base_ref, pr.head_sha):
        return True, "blocked"
    if False in check_results(world, repo, pr.head_sha).values():
        return True, "unstable"
    return True, "clean"


# ---------------------------------------------------------------------- JSON


def pull_json(r: Renderer, pr: PullRequest, *, simple: bool = False) -> Json:
    """pull-request, or pull-request-simple for lists."""
    api = f"{r.repo_api(pr.repo)}"
    html = f"{WEB_URL}/{pr.repo}/pull/{pr.number}"
    issue = f"{api}/issues/{pr.number}"
    data: Json = spec.skeleton("pull-request")
    data.update(
        url=f"{api}/pulls/{pr.number}",
        id=pr.id,
        node_id=node_id("PullRequest", pr.id),
        html_url=html,
        diff_url=f"{html}.diff",
        patch_url=f"{html}.patch",
        issue_url=issue,
        commits_url=f"{api}/pulls/{pr.number}/commits",
        review_comments_url=f"{api}/pulls/{pr.number}/comments",
        review_comment_url=f"{api}/pulls/comments{{/number}}",
        comments_url=f"{issue}/comments",
        statuses_url=f"{api}/statuses/{pr.head_sha}",
        number=pr.number,
        state=pr.state,
        locked=False,
        title=pr.title,
        user=r.user(pr.user),
        body=pr.body,
        labels=[_label(r, pr.repo, name) for name in pr.labels],
        created_at=pr.created_at,
        updated_at=pr.updated_at,
        closed_at=pr.closed_at,
        merged_at=pr.merged_at,
        merge_commit_sha=pr.merge_commit_sha,
        draft=pr.draft,
        head=_branch(r, pr.head_repo, pr.head_ref, pr.head_sha),
        base=_branch(r, pr.repo, pr.base_ref, _base_sha(_repo(r.world, pr.repo), pr)),
        author_association=r.association(pr.repo, pr.user),
        auto_merge=None,
        assignees=[],
        requested_reviewers=[],
        requested_teams=[],
    )
    data["_links"] = {
        "self": {"href": data["url"]},
        "html": {"href": html},
        "issue": {"href": issue},
        "comments": {"href": data["comments_url"]},
        "review_comments": {"href": data["review_comments_url"]},
        "review_comment": {"href": data["review_comment_url"]},
        "commits": {"href": data["commits_url"]},
        "statuses": {"href": data["statuses_url"]},
    }
    if simple:
        keys = spec.spec_document()["components"]["schemas"]["pull-request-simple"]["properties"]
        return {key: value for key, value in data.items() if key in keys}
    return {**data, **_details(r, pr)}


def _details(r: Renderer, pr: PullRequest) -> Json:
    """Fields only the single-PR endpoint returns."""
    repo = _repo(r.world, pr.repo)
    base_sha = _base_sha(repo, pr)
    merge_base = repo.git.merge_base(base_sha, pr.head_sha) or base_sha
    changed, additions, deletions = repo.git.diff_stats(merge_base, pr.head_sha)
    mergeable, state = mergeability(r.world, pr)
    return {
        "merged": pr.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": state,
        "merged_by": r.user(pr.merged_by) if pr.merged_by else None,
        "comments": sum(
            1 for c in r.world.comments.values() if (c.repo, c.issue_number) == (pr.repo, pr.number)
        ),
        "review_comments": 0,
        "maintainer_can_modify": pr.maintainer_can_modify,
        "commits": len(repo.git.commits_between(merge_base, pr.head_sha)),
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed,
    }


def _branch(r: Renderer, full_name: str, ref: str, sha: str) -> Json:
    repo = _repo(r.world, full_name)
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": r.user(repo.owner),
        "repo": r.repository(repo),
    }


def _label(r: Renderer, full_name: str, name: str) -> Json:
    number = sum(ord(ch) for ch in name)
    return {
        "id": number,
        "node_id": node_id("Label", number),
        "url": f"{r.repo_api(full_name)}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def label_json(r: Renderer, full_name: str, name: str) -> Json:
    """label (for ``labeled`` payloads)."""
    return _label(r, full_name, name)


# ---------------------------------------------------------------------- merging


def merge(
    world: World,
    pr: PullRequest,
    *,
    method: str,
    sha: str | None,
    title: str | None,
    message: str | None,
    actor: User,
) -> MergeResult:
    """Merge ``pr`` into its base branch with real git, or raise Refused."""
    repo = _repo(world, pr.repo)
    if pr.state != "open" or pr.draft:
        raise Refused(405, "Pull Request is not mergeable")
    if sha is not None and sha != pr.head_sha:
        raise Refused(409, "Head branch was modified. Review and try the merge again.")
    base_sha = _base_sha(repo, pr)
    _check_protection(world, repo, pr, base_sha)
    try:
        after = _merge_commit(repo.git, pr, base_sha, method, title, message, actor)
    except MergeConflict as conflict:
        raise Refused(405, "Pull Request is not mergeable") from conflict
    repo.git.set_ref(f"refs/heads/{pr.base_ref}", after, base_sha)
    return MergeResult(before=base_sha, after=after)


def _check_protection(world: World, repo: Repo, pr: PullRequest, base_sha: str) -> None:
    required = required_checks(repo, pr.base_ref)
    if required and required.strict and not repo.git.is_ancestor(base_sha, pr.head_sha):
        raise Refused(405, "Head branch is not up to date with the base branch.")
    unmet = unmet_required(world, repo, pr.base_ref, pr.head_sha)
    if unmet:
        raise Refused(405, f'Required status check "{unmet[0]}" is expected.')


def _merge_commit(
    git: GitRepo,
    pr: PullRequest,
    base_sha: str,
    method: str,
    title: str | None,
    message: str | None,
    actor: User,
) -> str:
    commits = git.commits_between(base_sha, pr.head_sha)
    if method == "rebase":
        return git.rebase(base_sha, commits, GITHUB_COMMITTER)
    tree = git.merge_tree(base_sha, pr.head_sha)
    if method == "squash":
        summary = "\n".join(f"* {git.commit_info(c).message.splitlines()[0]}" for c in commits)
        text = f"{title or f'{pr.title} (#{pr.number})'}\n\n{message or summary}"
        return git.commit_tree(tree, [base_sha], text, identity(pr.user), GITHUB_COMMITTER)
    owner = pr.head_repo.split("/", 1)[0]
    default_title = f"Merge pull request #{pr.number} from {owner}/{pr.head_ref}"
    text = f"{title or default_title}\n\n{message or pr.title}"
    return git.commit_tree(tree, [base_sha, pr.head_sha], text, identity(actor), GITHUB_COMMITTER)


def update_branch(
    world: World, pr: PullRequest, expected_head: str | None, actor: User
) -> MergeResult:
    """Merge the base branch into the head branch of a same-repository PR."""
    if expected_head is not None and expected_head != pr.head_sha:
        raise Refused(422, "expected_head_sha didn't match current head ref.")
    if pr.state != "open":
        raise Refused(422, "Pull request is closed.")
    if pr.head_repo != pr.repo:
        raise Refused(422, "The fake updates branches of same-repository pull requests only.")
    repo = _repo(world, pr.repo)
    base_sha = _base_sha(repo, pr)
    if repo.git.is_ancestor(base_sha, pr.head_sha):
        raise Refused(422, "There are no new commits on the base branch.")
    try:
        tree = repo.git.merge_tree(pr.head_sha, base_sha)
    except MergeConflict as conflict:
        raise Refused(422, "merge conflict between base and head") from conflict
    text = f"Merge branch '{pr.base_ref}' into {pr.head_ref}"
    before = pr.head_sha
    after = repo.git.commit_tree(tree, [before, base_sha], text, identity(actor), GITHUB_COMMITTER)
    repo.git.set_ref(f"refs/heads/{pr.head_ref}", after, before)
    return MergeResult(before=before, after=after)


def _repo(world: World, full_name: str) -> Repo:
    repo = world.repo(full_name)
    assert repo is not None, full_name
    return repo


def _base_sha(repo: Repo, pr: PullRequest) -> str:
    sha = repo.git.branch_sha(pr.base_ref)
    if sha is None:
        raise Refused(422, f"Base branch {pr.base_ref} does not exist.")
    return sha
