"""Authentication as GitHub does it for Apps: app JWTs and installation tokens.

https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.state import App, Installation, Token, World

# GitHub refuses JWTs that live longer than this.
MAX_JWT_LIFETIME = timedelta(minutes=10)
# Tolerated clock drift for ``iat`` in the future.
CLOCK_DRIFT = timedelta(seconds=60)


_SIGNATURE_ONLY: jwt.types.Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


class AuthError(Exception):
    """A credential GitHub answers with 401."""


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new RSA key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def public_pem(private_pem: bytes) -> bytes:
    """The public key (PEM) of a private key (PEM)."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.cache
def shared_key_pair() -> tuple[bytes, bytes]:
    """One key pair per test process (generating RSA keys takes tens of milliseconds)."""
    return generate_key_pair()


def split_authorization(header: str | None) -> tuple[str, str] | None:
    """(scheme, credential) from an Authorization header; the scheme lower-cased."""
    if not header or " " not in header:
        return None
    scheme, credential = header.strip().split(" ", 1)
    return scheme.lower(), credential.strip()


def verify_app_jwt(world: World, token: str, now: datetime) -> App:
    """The App a JWT authenticates, or AuthError with GitHub's reason."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AuthError("A JSON web token could not be decoded") from error
    if header.get("alg") != "RS256":
        raise AuthError("'alg' must be RS256")
    app = _issuer(world, claims.get("iss"))
    if app.public_key_pem is None:
        raise AuthError("Integration has no public key")
    try:
        # Times are checked against the fake's clock below, not the real one.
        jwt.decode(token, app.public_key_pem, algorithms=["RS256"], options=_SIGNATURE_ONLY)
    except jwt.PyJWTError as error:
        raise AuthError("A JSON web token could not be decoded") from error
    _check_times(claims, now)
    return app


def _issuer(world: World, issuer: object) -> App:
    if not isinstance(issuer, str):
        # PyJWT 2.10+ and GitHub's docs: ``iss`` is the app id *as a string*.
        raise AuthError("'Issuer' claim ('iss') must be a String")
    for app in world.apps.values():
        if issuer in {str(app.id), app.client_id}:
            return app
    raise AuthError(f"'Issuer' claim ('iss') {issuer!r} is not a known app")


def _check_times(claims: dict[str, object], now: datetime) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise AuthError("'Expiration time' claim ('exp') and 'iat' must be numeric values")
    stamp = now.timestamp()
    if exp <= stamp:
        raise AuthError(
            "'Expiration time' claim ('exp') must be a numeric value representing "
            "the future time at which the assertion expires"
        )
    if exp - stamp > MAX_JWT_LIFETIME.total_seconds() + 1:
        raise AuthError("'Expiration time' claim ('exp') is too far in the future")
    if iat > stamp + CLOCK_DRIFT.total_seconds():
        raise AuthError(
            "'Issued at' claim ('iat') must be an Integer representing the time "
            "that the assertion was issued"
        )


def issue_token(
    world: World,
    installation: Installation,
    now: datetime,
    lifetime: timedelta,
    repositories: list[str] | None,
    permissions: dict[str, str],
) -> Token:
    """A fresh installation token (GitHub's new format is longer than 40 characters)."""
    token = Token(
        token="ghs_" + secrets.token_urlsafe(60),
        installation_id=installation.id,
        expires_at=now + lifetime,
        repositories=repositories,
        permissions=permissions,
    )
    world.tokens[token.token] = token
    return token


def verify_token(world: World, value: str, now: datetime) -> Token:
    """The installation token ``value``, or AuthError when unknown or expired."""
    token = world.tokens.get(value)
    if token is None or token.expires_at <= now:
        raise AuthError("Bad credentials")
    installation = world.installations.get(token.installation_id)
    if installation is None or installation.suspended_at is not None:
        raise AuthError("Bad credentials")
    return token


def can_access(world: World, token: Token, full_name: str) -> bool:
    """Whether an installation token reaches a repository."""
    installation = world.installations[token.installation_id]
    if world.installation_for(full_name, installation.app_id) is not installation:
        return False
    return token.repositories is None or full_name.lower() in {
        name.lower() for name in token.repositories
    }
