"""Conditional reads: every GET carries the ETag of the last answer to the same request.

GitHub answers `304 Not Modified` to a request whose `If-None-Match` is the ETag of an
unchanged answer, and a 304 does not count against the rate limit. ETags are tied to the
credentials that made the request, and installation tokens rotate hourly, so an answer is
kept by (credentials, media type, URL): a new token starts with no ETags rather than
sending another token's, and a 304 can only ever replay what the same token was shown.
gidgethub's own cache keys by URL alone, so it is not used.
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import LRUCache
from multidict import CIMultiDict

# What the kept answers may weigh in all (bodies and headers): the reads of many
# repositories' pull requests, well below what a process may use.
ETAG_CACHE_BYTES = 32 * 1024 * 1024
# Headers a 304 carries that are fresher than the kept answer's.
FRESH_HEADERS = ("etag", "date", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
# What one kept answer costs besides its body (its key and headers, roughly).
ENTRY_OVERHEAD_BYTES = 1024

Key = tuple[str, str, str]  # (digest of the credentials, Accept, URL)
Answer = tuple[int, Mapping[str, str], bytes]


@dataclass(frozen=True)
class Kept:
    """An answer that came with an ETag, to replay when GitHub says it has not changed."""

    etag: str
    headers: CIMultiDict[str]
    body: bytes


def _weight(kept: Kept) -> int:
    return len(kept.body) + ENTRY_OVERHEAD_BYTES


class EtagCache:
    """Answers to GETs by credentials, media type and URL, least recently used dropped first."""

    def __init__(self, max_bytes: int = ETAG_CACHE_BYTES) -> None:
        self._answers: LRUCache[Key, Kept] = LRUCache(maxsize=max_bytes, getsizeof=_weight)

    @staticmethod
    def key(method: str, url: str, headers: Mapping[str, str]) -> Key | None:
        """Where an answer to this request is kept; None for what is never asked again
        conditionally (anything but an authenticated GET)."""
        if method.upper() != "GET":
            return None
        credentials = _header(headers, "authorization")
        if not credentials:
            return None
        # A digest, so that the cache does not hold the tokens themselves.
        digest = hashlib.blake2b(credentials.encode(), digest_size=16).hexdigest()
        return digest, _header(headers, "accept"), url

    def ask(
        self, key: Key | None, headers: Mapping[str, str]
    ) -> tuple[Kept | None, dict[str, str]]:
        """The kept answer, if any, and the headers to send: with its ETag when there is one."""
        kept = self._answers.get(key) if key is not None else None
        sent = dict(headers)
        if kept is not None:
            sent["if-none-match"] = kept.etag
        return kept, sent

    def settle(self, key: Key | None, kept: Kept | None, answer: Answer) -> Answer:
        """The answer to give the caller: the kept one again for a 304, else GitHub's (kept
        for next time when it is a 200 with an ETag)."""
        status, headers, body = answer
        if key is None:
            return answer
        if status == 304 and kept is not None:
            replayed = CIMultiDict(kept.headers)
            for name in FRESH_HEADERS:
                if name in headers:
                    replayed[name] = headers[name]
            return 200, replayed, kept.body
        etag = _header(headers, "etag")
        if status == 200 and etag:
            fresh = Kept(etag, CIMultiDict(headers), body)
            if _weight(fresh) <= self._answers.maxsize:
                self._answers[key] = fresh
        elif kept is not None:
            self._answers.pop(key, None)  # gone or refused now: never replay it
        return answer

    def __len__(self) -> int:
        return len(self._answers)


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by name in any case (gidgethub sends lower-case names, aiohttp answers in
    GitHub's case)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or ""
