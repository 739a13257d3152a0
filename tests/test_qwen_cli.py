"""The ``qwen`` backend end to end through the normal CLI, on a tiny random-weight Qwen2-VL.

``videokit --config config.ini --library LIB run --analyzer qwen CLIP`` with ``[QwenVL] Model``
pointing at a checkpoint folder built by :mod:`qwen_fixtures` (nothing is downloaded). The
model's ``generate`` is wrapped in-process to count calls, and in the "good reply" tests to
replay a canned JSON answer through the real tokenizer and decoding.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402

from media import make_cuts_video  # noqa: E402
from qwen_fixtures import build_tiny_qwen  # noqa: E402
from videokit._cli import main  # noqa: E402
from videokit.config import load_config  # noqa: E402
from videokit.record import Record  # noqa: E402
from videokit.store import open_store  # noqa: E402
from videokit.store.base import Query  # noqa: E402

torch.set_num_threads(1)

QUESTION = "Is anyone wearing a helmet?"
REPLY = {
    "description": "A cyclist in a yellow raincoat rides past a lighthouse at dusk.",
    "answers": {QUESTION: "Yes, the cyclist wears a blue helmet."},
    "sentiment": {"label": "positive", "score": 0.6, "reason": "a calm, pretty evening ride"},
    "tags": ["cycling", "lighthouse"],
    "category": "Nature",
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2-vl", "qwen2_vl")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cuts_video(tmp_path_factory.mktemp("qwen-cli") / "ride.mp4", ["red", "blue"], seg=1.0)


@pytest.fixture
def config_ini(tmp_path: Path, tiny_model: Path) -> Path:
    ini = tmp_path / "config.ini"
    ini.write_text(
        "[Analysis]\n"
        "Backend = qwen\n"
        "MaxFrames = 4\n"
        "[QwenVL]\n"
        f"Model = {tiny_model}\n"
        "Device = cpu\n"
        "MaxPixels = 20000\n"
        "MaxNewTokens = 12\n"
        "[Concurrency]\n"
        "MaxWorkers = 1\n"
    )
    return ini


class GenerateCounter:
    """Wraps ``generate`` on the model class: counts calls; with ``reply`` set, the model
    "says" that text (tokenized by the checkpoint's own tokenizer) instead of its random output."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, model_dir: Path, reply: str | None = None) -> None:
        from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration

        self.calls = 0
        self.reply = reply
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        real = Qwen2VLForConditionalGeneration.generate
        counter = self

        def generate(model: Any, *args: Any, **kwargs: Any) -> Any:
            counter.calls += 1
            if counter.reply is None:
                return real(model, *args, **kwargs)
            tok = counter.tokenizer
            ids = tok(counter.reply)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
            prompt = kwargs["input_ids"]
            return torch.cat([prompt, torch.tensor([ids] * prompt.shape[0], dtype=prompt.dtype)], dim=1)

        monkeypatch.setattr(Qwen2VLForConditionalGeneration, "generate", generate)


def cli(config_ini: Path, library: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(config_ini), "--library", str(library), "-q", *args])
    return result


def stored(config_ini: Path, library: Path) -> list[Record]:
    cfg = load_config(config_ini, env={}, overrides={("Library", "Location"): str(library)})
    with open_store(cfg) as store:
        return store.search(Query())


def test_qwen_runs_end_to_end_through_the_cli_and_the_cache_saves_model_calls(
    tiny_model, clip, config_ini, tmp_path, monkeypatch
):
    lib = tmp_path / "lib"
    gen = GenerateCounter(monkeypatch, tiny_model)

    first = cli(config_ini, lib, "run", "--analyzer", "qwen", str(clip))
    assert first.exit_code == 0, first.output
    assert gen.calls == 1
    (rec,) = stored(config_ini, lib)
    a = rec.analysis
    assert a is not None and a.backend == "qwen" and a.model == "tiny-qwen2-vl"
    # random weights say nothing parseable: the raw reply is kept as the description, with a warning
    assert a.description and a.description.strip()
    assert any("not valid JSON" in w for w in a.warnings)
    assert not [t for t in rec.tags if t.origin.startswith("analyzer:qwen")]
    assert a.usage["requests"] == 1 and 1 <= a.usage["completion_tokens"] <= 12
    assert a.facts["frames"] == 4

    again = cli(config_ini, lib, "run", "--analyzer", "qwen", str(clip))
    assert again.exit_code == 0, again.output
    assert gen.calls == 1  # nothing to do: the ledger has it

    # the same video under another name is new to the ledger, but its analysis is cached
    copy = tmp_path / "ride-copy.mp4"
    shutil.copy(clip, copy)
    cached = cli(config_ini, lib, "run", "--analyzer", "qwen", str(copy))
    assert cached.exit_code == 0, cached.output
    assert gen.calls == 1
    (rec,) = stored(config_ini, lib)
    assert len(rec.sources) == 2 and rec.analysis.description == a.description

    refreshed = cli(config_ini, lib, "run", "--analyzer", "qwen", "--refresh", str(clip))
    assert refreshed.exit_code == 0, refreshed.output
    assert gen.calls == 2


def test_a_good_reply_lands_in_the_store_and_search_finds_it(tiny_model, clip, config_ini, tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    gen = GenerateCounter(monkeypatch, tiny_model, reply="```json\n" + json.dumps(REPLY) + "\n```")

    res = cli(config_ini, lib, "run", "--analyzer", "qwen", "--ask", QUESTION, str(clip))
    assert res.exit_code == 0, res.output
    assert gen.calls == 1
    (rec,) = stored(config_ini, lib)
    a = rec.analysis
    assert a.description == REPLY["description"] and a.warnings == []
    assert a.answers == {QUESTION: "Yes, the cyclist wears a blue helmet."}
    assert a.sentiment is not None and a.sentiment.label == "positive" and a.sentiment.score == pytest.approx(0.6)
    assert a.category == "Nature"
    qwen_tags = {t.name for t in rec.tags if t.origin == "analyzer:qwen/tiny-qwen2-vl"}
    assert qwen_tags == {"cycling", "lighthouse"}

    found = cli(config_ini, lib, "search", "--json", "lighthouse")
    assert found.exit_code == 0, found.output
    assert [r["id"] for r in json.loads(found.stdout)] == [rec.id]
    assert json.loads(cli(config_ini, lib, "search", "--json", "submarine").stdout) == []


def test_ask_finds_a_moved_video_only_where_the_user_says_it_went(tiny_model, clip, config_ini, tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    video = tmp_path / "ride.mp4"
    shutil.copy(clip, video)
    gen = GenerateCounter(monkeypatch, tiny_model, reply=json.dumps(REPLY))
    assert cli(config_ini, lib, "run", str(video)).exit_code == 0
    (rec,) = stored(config_ini, lib)
    short = rec.id[:12]
    moved = tmp_path / "archive" / "ride-2024.mp4"
    moved.parent.mkdir()
    video.rename(moved)

    lost = cli(config_ini, lib, "ask", short, QUESTION)
    assert lost.exit_code == 2
    (line,) = lost.stderr.strip().splitlines()
    assert str(video) in line and "missing" in line and f"videokit ask --video PATH {short}" in line

    other = tmp_path / "other.mp4"
    shutil.copy(Path(config_ini), other)  # any file with different content
    wrong = cli(config_ini, lib, "ask", "--video", str(other), short, QUESTION)
    assert wrong.exit_code == 2 and "not the video of" in wrong.stderr
    assert gen.calls == 1

    found = cli(config_ini, lib, "ask", "--video", str(moved), short, QUESTION)
    assert found.exit_code == 0, found.output
    assert found.stdout.strip() == "Yes, the cyclist wears a blue helmet."
    assert gen.calls == 2
    (rec,) = stored(config_ini, lib)
    assert rec.analysis.answers[QUESTION] == "Yes, the cyclist wears a blue helmet."
    assert Path(rec.file.path) == moved.resolve()  # the record now points where the video went

    again = cli(config_ini, lib, "ask", "--refresh", short, QUESTION)
    assert again.exit_code == 0, again.output  # no --video needed any more
    assert gen.calls == 3
    by_path = cli(config_ini, lib, "ask", str(moved), QUESTION)
    assert by_path.exit_code == 0 and gen.calls == 3  # same question, same video: cached
