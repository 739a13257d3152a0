"""The pipeline's own promises: declared order, checked needs, per-record errors, loud crashes."""

from __future__ import annotations

import logging

import pytest

from videokit.config import load_config
from videokit.errors import ConfigError, InputError
from videokit.pipeline import Context, Pipeline, Stage, build_pipeline, stages
from videokit.record import Record, Source


class _Boom(Stage):
    name = "boom"
    required = False

    def process(self, record: Record, ctx: Context) -> None:
        if record.sources[0].input == "bad":
            raise KeyError("a bug")
        if record.sources[0].input == "user":
            raise InputError("user: not a video; give a video file")
        record.extra["boom"] = "ok"


def _records(*names: str) -> list[Record]:
    return [Record(sources=[Source(input=n)]) for n in names]


def test_a_crash_is_logged_at_error_and_stays_on_its_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.__dict__["allow_errors"] = True  # this test expects one ERROR
    recs = _records("good", "bad", "user", "good2")
    Pipeline([_Boom()]).process_batch(recs, Context(config=load_config(env={})))
    assert [r.extra.get("boom") for r in recs] == ["ok", None, None, "ok"]
    assert recs[1].errors[0].message == "KeyError: 'a bug'"
    assert recs[2].errors[0].message == "user: not a video; give a video file"
    levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records if "boom" in r.getMessage()}
    assert levels == {"bad": logging.ERROR, "user": logging.WARNING}


class _NeedsMedia(Stage):
    name = "needsmedia"
    after = "fetch"  # before probe, which provides media
    needs = frozenset({"media"})


class _Orphan(Stage):
    name = "orphan"
    after = "nowhere"


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_NeedsMedia, "stage 'needsmedia' needs media, which no stage before it provides"),
        (_Orphan, "stage 'orphan' wants to run after 'nowhere', which is not a registered stage"),
    ],
)
def test_a_stage_placed_before_what_it_needs_is_a_config_error(cls: type[Stage], message: str) -> None:
    stages.register(cls.name)(cls)
    try:
        with pytest.raises(ConfigError, match=message):
            build_pipeline(load_config(env={}))
    finally:
        stages._factories.pop(cls.name)


def test_required_failure_stops_only_that_record() -> None:
    class Gate(Stage):
        name = "gate"

        def process(self, record: Record, ctx: Context) -> None:
            if record.sources[0].input == "user":
                raise InputError("user: blocked")

    recs = _records("a", "user")
    Pipeline([Gate(), _Boom()]).process_batch(recs, Context(config=load_config(env={})))
    assert recs[0].extra == {"boom": "ok"} and "boom" in recs[0].timings
    assert recs[1].extra == {} and "boom" not in recs[1].timings
