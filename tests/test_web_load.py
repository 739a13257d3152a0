"""The server under load (loopback only, bounded): 50 concurrent clients against search and
media for LOAD_SECONDS on a small library. No 5xx, no dropped connection, p50/p95 reported,
and 429s exactly when a key exceeds its limit: the 45 paced clients (a key each) never see
one; the 5 greedy clients sharing one key get exactly RateLimit answers, then only 429s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videokit import api
from web_helpers import built_library, config_for, key, lib, served  # noqa: F401
from web_load import Plan, fill_library, run_load, video_facts

LOAD_SECONDS = 10.0  # benchmarks/web_load.py runs 30 s on 10,000 videos
LIMIT = 60  # requests per key per minute: a paced client makes at most 40 in LOAD_SECONDS


def test_fifty_clients_no_5xx_and_429_exactly_past_the_limit(lib: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = config_for(lib)
    vid, size = video_facts(cfg)
    fill_library(cfg, 300)
    paced = [Plan(key(cfg, name=f"paced-{i}"), pace=0.25, group="paced") for i in range(45)]
    greedy_key = key(cfg, name="greedy")
    greedy = [Plan(greedy_key, group="greedy") for _ in range(5)]
    with served(lib, env={"VIDEOKIT_SERVER_RATELIMIT": f"{LIMIT}/minute"}) as url:
        result = run_load(url, paced + greedy, LOAD_SECONDS, vid, size)
    summary = result.summary()
    with capsys.disabled():
        print("\nweb load:", json.dumps(summary))

    statuses = summary["statuses"]
    assert isinstance(statuses, dict)
    assert [s for s in statuses if s >= 500 or s == 0] == [], statuses  # no 5xx, no transport error
    paced_codes = {s.status for s in result.of(group="paced")}
    assert paced_codes <= {200, 206}, paced_codes  # under the limit: never refused
    greedy_codes = [s.status for s in result.of(group="greedy")]
    admitted = [c for c in greedy_codes if c in (200, 206)]
    assert len(admitted) == LIMIT and greedy_codes.count(429) == len(greedy_codes) - LIMIT
    assert len(result.of("search")) > 200 and len(result.of("range")) > 50
    assert api.count(cfg) == 301
