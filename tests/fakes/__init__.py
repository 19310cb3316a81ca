"""A stateful fake of GitHub (REST API checked against GitHub's OpenAPI description,
real git repositories, webhooks) for Greenlight's tests."""

from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import File
from tests.fakes.server import Violation

__all__ = ["FakeGitHub", "File", "Violation"]
