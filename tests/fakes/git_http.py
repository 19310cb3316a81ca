"""Git over HTTP as GitHub serves it: `<base>/<owner>/<repo>.git`, the smart protocol.

`git http-backend` answers; the fake decides first who may. Git sends an installation
token as HTTP Basic auth, the token as the password (the user name is not checked;
`x-access-token` by convention). A fetch needs `contents: read` on the repository, a push
`contents: write`; a public repository can be fetched by anyone.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
Each request that got through is recorded with the token it used, so a test can read
the scope of the token that fetched the code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.auth import AuthError, can_access, split_authorization, verify_token
from tests.fakes.permissions import GIT_FETCH, GIT_PUSH, allows
from tests.fakes.state import Repo, Token

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

ROUTE = "/{owner}/{name}.git/{rest:.*}"
_SERVICES = {"git-upload-pack", "git-receive-pack"}


@dataclass(frozen=True)
class GitRequest:
    """One git request the fake served: which repository, which service, what token."""

    repo: str
    service: str
    token: Token | None


async def serve(fake: FakeGitHub, request: web.Request) -> web.StreamResponse:
    """Answer one request of git's smart HTTP protocol, if the credentials allow it."""
    repo = fake.world.repo(f"{request.match_info['owner']}/{request.match_info['name']}")
    rest = request.match_info["rest"]
    service = request.query.get("service", "") if rest == "info/refs" else rest
    if repo is None or service not in _SERVICES:
        return _refusal(404, "Repository not found.")
    try:
        token = _token(fake, request)
    except AuthError:
        return _refusal(401, "Invalid username or token.")
    refusal = _check(fake, repo, service, token)
    if refusal is not None:
        return refusal
    fake.git_requests.append(GitRequest(repo.full_name, service, token))
    return await _backend(repo, rest, request)


def _token(fake: FakeGitHub, request: web.Request) -> Token | None:
    credentials = split_authorization(request.headers.get("Authorization"))
    if credentials is None:
        return None
    scheme, value = credentials
    if scheme != "basic":
        raise AuthError("git sends Basic credentials")
    try:
        _, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise AuthError("undecodable credentials") from error
    return verify_token(fake.world, password, fake.now())


def _check(fake: FakeGitHub, repo: Repo, service: str, token: Token | None) -> web.Response | None:
    pushing = service == "git-receive-pack"
    if token is None:
        if pushing or repo.private:
            return _refusal(401, "Authentication required.")
        return None
    if not can_access(fake.world, token, repo.full_name):
        return None if not pushing and not repo.private else _refusal(404, "Repository not found.")
    if not allows(token.permissions, GIT_PUSH if pushing else GIT_FETCH):
        return _refusal(403, "Write access to repository not granted.")
    return None


def _refusal(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Basic realm="GitHub"'} if status == 401 else None
    return web.Response(status=status, text=f"remote: {message}\n", headers=headers)


async def _backend(repo: Repo, rest: str, request: web.Request) -> web.Response:
    """Run `git http-backend` as a CGI program for this one request."""
    path = repo.git.path
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_PROJECT_ROOT": str(path.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{path.name}/{rest}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_USER": "x-access-token",  # http-backend refuses pushes from nobody
        "REMOTE_ADDR": request.remote or "127.0.0.1",
    }
    if "Content-Encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate(await request.read())
    if process.returncode != 0 and not output:
        return web.Response(status=500, text=errors.decode(errors="replace"))
    return _cgi_response(output)


def _cgi_response(output: bytes) -> web.Response:
    """A CGI program's output (headers, a blank line, the body) as an HTTP response."""
    index, separator = min(
        (output.find(separator), separator)
        for separator in (b"\r\n\r\n", b"\n\n")
        if separator in output
    )
    status, headers = 200, {}
    for line in output[:index].decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[name.strip()] = value.strip()
    return web.Response(status=status, body=output[index + len(separator) :], headers=headers)
