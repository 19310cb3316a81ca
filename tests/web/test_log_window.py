"""The end of a log a page shows and the rest a follower reads, from chunks, checked
against the whole text: many chunkings and budgets, chunks added between reads."""

from __future__ import annotations

import random

from bot.store import Store
from bot.store.log_pages import JOB_LOGS, LogIndex, read_from, read_window
from tests.web.seed import seed_run


def expected_window(whole: str, budget: int) -> tuple[str, int]:
    """What the page shows of `whole`: all of it, or its end from a line start (the end
    of one overlong line when no line starts in the budget), and its first line's number."""
    if len(whole) <= budget:
        return whole, 1
    position = len(whole) - budget
    if whole[position - 1] != "\n":
        newline = whole.find("\n", position)
        if 0 <= newline < len(whole) - 1:
            position = newline + 1
    return whole[position:], whole[:position].count("\n") + 1


def chunks(chance: random.Random) -> list[str]:
    return [
        "".join(chance.choice("ab\n\x1bé") for _ in range(chance.randint(0, 40)))
        for _ in range(chance.randint(1, 10))
    ]


async def test_windows_and_follower_reads_match_the_whole_text(store: Store) -> None:
    chance = random.Random(14)  # fixed: the same cases every run
    index = LogIndex(store.engine)
    for case in range(60):
        job_id = (await seed_run(store, f"{case:040x}", {"build": None})).jobs["build"].id
        budget, offset = chance.randint(1, 200), chance.randint(0, 400)
        written = ""
        for _ in range(2):  # the index learns the later chunks incrementally
            batch = chunks(chance)
            for chunk in batch:
                await store.runs.append_log(job_id, chunk)
            written += "".join(batch)
            window = await read_window(index, JOB_LOGS, job_id, max_chars=budget)
            text, first_line = expected_window(written, budget)
            assert (window.text, window.first_line) == (text, first_line), case
            assert (window.skipped, window.total) == (len(written) - len(text), len(written))
            start = min(offset, len(written))
            rest, _ = await read_from(index, JOB_LOGS, job_id, offset=start)
            assert rest == written[start:], case
