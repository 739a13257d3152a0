"""The ``qwen`` analyzer on tiny random-weight Qwen2-VL / Qwen2.5-VL checkpoints (no download).

Checkpoints are built by :mod:`qwen_fixtures`, saved with ``save_pretrained`` and loaded back
through ``QwenAnalyzer`` with ``[QwenVL] Model = <folder>``, the code path users run. Frames
are sampled from a generated two-scene clip.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from media import make_cuts_video  # noqa: E402
from qwen_fixtures import build_tiny_qwen  # noqa: E402
from videokit.analysis.base import AnalysisRequest, FrameRef  # noqa: E402
from videokit.analysis.qwen import QwenAnalyzer, clear_model_cache, have_torchvision, load_model  # noqa: E402
from videokit.analysis.qwen_preprocess import VisionSpec, patchify, preprocess_video, smart_resize  # noqa: E402
from videokit.config import load_config  # noqa: E402
from videokit.errors import ConfigError, InputError  # noqa: E402
from videokit.record import MediaInfo, Record  # noqa: E402

torch.set_num_threads(1)

QUESTIONS = ["Is anyone wearing a helmet?", "What colour is the car?"]
KEYWORDS = ["bicycle safety", "weather"]


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2-vl", "qwen2_vl")


@pytest.fixture(scope="session")
def tiny_qwen25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2.5-vl", "qwen2_5_vl")


@pytest.fixture(scope="session")
def sampled_frames(media_dir: Path) -> list[FrameRef]:
    """8 frames (4 per second) of a 2 s, 320x240 clip with a hard cut at 1 s: scenes 0 and 1."""
    video = make_cuts_video(media_dir / "qwen_cuts.mp4", ["red", "blue"], seg=1.0)
    out = media_dir / "qwen_frames"
    out.mkdir(exist_ok=True)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-nostdin",
            "-i",
            str(video),
            "-vf",
            "fps=4",
            "-q:v",
            "3",
            str(out / "f%02d.jpg"),
        ],
        check=True,
    )
    files = sorted(out.glob("f*.jpg"))
    assert len(files) == 8
    return [FrameRef(p, i / 4, 0 if i < 4 else 1) for i, p in enumerate(files)]


ANALYSIS_KEYS = {"Backend", "Questions", "PerScene", "MaxFrames"}  # [Analysis]; the rest are [QwenVL]


def analyzer(model: Path, **settings: Any) -> QwenAnalyzer:
    overrides = {("QwenVL", "Model"): str(model), ("QwenVL", "MaxNewTokens"): "8", ("QwenVL", "Device"): "cpu"}
    overrides.update({("Analysis" if k in ANALYSIS_KEYS else "QwenVL", k): str(v) for k, v in settings.items()})
    return QwenAnalyzer(load_config(None, env={}, overrides=overrides))


def request(frames: list[FrameRef], name: str = "clip.mp4", **kw: Any) -> AnalysisRequest:
    kw.setdefault("questions", QUESTIONS)
    kw.setdefault("priority_keywords", KEYWORDS)
    return AnalysisRequest(
        video=Path(name),
        record=Record(media=MediaInfo(duration=2.0)),
        frames=frames,
        instruction="Describe this video in detail.",
        **kw,
    )


class GenerateSpy:
    """Wraps a loaded model's ``generate``: records the inputs, optionally replays a canned reply."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, qa: QwenAnalyzer, reply: str | None = None) -> None:
        qa.setup()
        self.model = qa._loaded.model
        self.tokenizer = qa._loaded.tokenizer
        self.calls: list[dict[str, Any]] = []
        self.reply = reply
        self._real = self.model.generate
        monkeypatch.setattr(self.model, "generate", self)

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.reply is None:
            return self._real(**kwargs)
        ids = self.tokenizer(self.reply)["input_ids"] + [self.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        rows = kwargs["input_ids"].shape[0]
        return torch.cat([kwargs["input_ids"], torch.tensor([ids] * rows)], dim=1)

    def prompts(self) -> list[str]:
        ids = self.calls[-1]["input_ids"]
        mask = self.calls[-1]["attention_mask"]
        return [self.tokenizer.decode(row[m.bool()].tolist()) for row, m in zip(ids, mask, strict=True)]


# -- the prompt --------------------------------------------------------------------------------


def test_prompt_carries_priority_keywords_questions_and_video_placeholders(tiny_qwen2, sampled_frames, monkeypatch):
    qa = analyzer(tiny_qwen2, MaxFrames=4, MaxPixels=20000)
    spy = GenerateSpy(monkeypatch, qa)
    qa.analyze(request(sampled_frames))

    (text,) = spy.prompts()
    assert "Focus on these aspects: bicycle safety, weather." in text
    for q in QUESTIONS:
        assert q in text
    assert text.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
    )
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    grid = spy.calls[0]["video_grid_thw"][0].tolist()
    pads = grid[0] * grid[1] * grid[2] // 4
    assert "<|vision_start|>" + "<|video_pad|>" * pads + "<|vision_end|>" in text
    # M-RoPE needs the modality of every token: 2 exactly on the video placeholders.
    ids, types = spy.calls[0]["input_ids"][0], spy.calls[0]["mm_token_type_ids"][0]
    video_id = spy.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert torch.equal(types == 2, ids == video_id) and int((types == 2).sum()) == pads
    assert int((types == 1).sum()) == 0


# -- frames reaching the model -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "n_frames", "min_pixels", "max_pixels", "expected"),
    [
        ((320, 240), 4, 3136, 20000, (2, 8, 10)),  # 240x320 shrinks to 112x140
        ((320, 240), 3, 100000, 200000, (2, 20, 28)),  # grows to 280x392; 3 frames pad to 4
        ((320, 240), 8, 3136, 50176, (4, 12, 18)),  # 168x252
        ((700, 100), 2, 3136, 20000, (1, 2, 26)),  # very wide: 28x364
    ],
)
def test_frames_reach_the_model_with_the_expected_grid(
    tiny_qwen2, sampled_frames, tmp_path, monkeypatch, size, n_frames, min_pixels, max_pixels, expected
):
    frames = sampled_frames
    if size != (320, 240):
        frames = []
        for f in sampled_frames:
            p = tmp_path / f.path.name
            Image.open(f.path).resize(size).save(p)
            frames.append(FrameRef(p, f.time, f.scene))
    qa = analyzer(tiny_qwen2, MaxFrames=n_frames, MinPixels=min_pixels, MaxPixels=max_pixels)
    spy = GenerateSpy(monkeypatch, qa)
    result = qa.analyze(request(frames))

    call = spy.calls[0]
    assert call["video_grid_thw"].tolist() == [list(expected)]
    t, h, w = expected
    assert tuple(call["pixel_values_videos"].shape) == (t * h * w, 3 * 2 * 14 * 14)
    assert result.facts["video_grid_thw"] == list(expected)
    assert result.facts["frames"] == n_frames
    # frames are chosen evenly over the sampled ones, first and last included
    times = result.facts["frame_times"]
    assert times[0] == 0.0 and len(times) == n_frames
    assert times[-1] == 1.75


def test_preprocessing_matches_transformers_image_processor(sampled_frames):
    """A one-frame video equals transformers' (PIL) Qwen2-VL image processor output, bit for bit."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    img = Image.open(sampled_frames[2].path).convert("RGB")
    for min_pixels, max_pixels in [(3136, 20000), (3136, 50176), (100000, 200000)]:
        ref = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)(images=[img], return_tensors="np")
        ours = preprocess_video([img], VisionSpec(), min_pixels=min_pixels, max_pixels=max_pixels)
        assert list(ours.grid_thw) == ref["image_grid_thw"][0].tolist()
        np.testing.assert_array_equal(ours.pixel_values, ref["pixel_values"])


def test_patch_layout_matches_qwen2_vl_video_processor():
    """Row (t, hb, wb, mh, mw) holds (C, T, P, P) of frames t*2..t*2+1 at patch (hb*2+mh, wb*2+mw)."""
    spec = VisionSpec()
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((3, 3, 56, 84)).astype(np.float32)  # 3 frames -> padded to 4
    patches, (gt, gh, gw) = patchify(frames, spec)
    assert (gt, gh, gw) == (2, 4, 6)
    padded = np.concatenate([frames, frames[-1:]])
    row = 0
    for t in range(gt):
        for hb in range(gh // 2):
            for wb in range(gw // 2):
                for mh in range(2):
                    for mw in range(2):
                        y, x = (hb * 2 + mh) * 14, (wb * 2 + mw) * 14
                        want = padded[t * 2 : t * 2 + 2, :, y : y + 14, x : x + 14].transpose(1, 0, 2, 3)
                        np.testing.assert_array_equal(patches[row].reshape(3, 2, 14, 14), want)
                        row += 1
    assert row == patches.shape[0]


@pytest.mark.parametrize(
    ("hw", "minmax", "expected"),
    [
        ((240, 320), (3136, 20000), (112, 140)),
        ((240, 320), (100000, 200000), (280, 392)),
        ((1080, 1920), (3136, 50176), (168, 280)),
        ((20, 20), (3136, 50176), (56, 56)),
    ],
)
def test_smart_resize_rounds_to_28_within_the_pixel_budget(hw, minmax, expected):
    h, w = smart_resize(*hw, 28, *minmax)
    assert (h, w) == expected
    assert h % 28 == 0 and w % 28 == 0 and minmax[0] <= h * w <= minmax[1]


@pytest.mark.skipif(
    not have_torchvision(), reason="torchvision is not installed: transformers' Qwen-VL processor cannot be built"
)
def test_own_preprocessing_gives_the_same_inputs_as_autoprocessor(tiny_qwen2, sampled_frames, monkeypatch):
    import videokit.analysis.qwen as qwen

    qa = analyzer(tiny_qwen2, MaxFrames=4, MaxPixels=20000)
    qa.setup()
    assert qa._loaded.processor is not None
    jobs = qa._jobs(request(sampled_frames), 0)
    for j in jobs:
        qa._prepare(j)
    theirs = qa.build_inputs(jobs)
    monkeypatch.setattr(qa._loaded, "processor", None)
    ours = qa.build_inputs(jobs)
    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "video_grid_thw"):
        assert torch.equal(ours[key], theirs[key].to(ours[key].dtype)), key
    # torchvision's bicubic resize differs from PIL's by rounding only
    assert torch.allclose(ours["pixel_values_videos"], theirs["pixel_values_videos"], atol=0.1)
    assert qwen.have_torchvision()


# -- model loading -------------------------------------------------------------------------------


def test_n_videos_load_the_model_once(tiny_qwen2, sampled_frames, monkeypatch):
    from transformers import AutoModelForImageTextToText

    clear_model_cache()
    loads: list[str] = []
    real = AutoModelForImageTextToText.from_pretrained.__func__

    def counting(cls, name, *args, **kwargs):
        loads.append(str(name))
        return real(cls, name, *args, **kwargs)

    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", classmethod(counting))
    first, second = analyzer(tiny_qwen2), analyzer(tiny_qwen2)
    results = [first.analyze(request(sampled_frames[:4], f"v{i}.mp4")) for i in range(3)]
    results += second.analyze_many([request(sampled_frames[4:], f"w{i}.mp4") for i in range(2)])
    assert loads == [str(tiny_qwen2)]
    assert len(results) == 5 and all(r.backend == "qwen" for r in results)
    assert first._loaded is second._loaded


def test_cpu_model_is_fp32(tiny_qwen2):
    lm = load_model(str(tiny_qwen2), "cpu")
    assert lm.model.dtype == torch.float32 and lm.model.device.type == "cpu"
    assert lm.kind == "qwen2_vl"
    assert 100_000 < sum(p.numel() for p in lm.model.parameters()) < 1_000_000  # tiny, yet the real architecture


def test_settings_a_user_can_get_wrong(tmp_path):
    with pytest.raises(ConfigError, match="MinPixels"):
        analyzer(tmp_path, MinPixels=90000, MaxPixels=20000)
    with pytest.raises(ConfigError, match=r"\[QwenVL\] Device = 'gpu0' is not valid"):
        analyzer(tmp_path, Device="gpu0")  # when the settings are read, before any model loads
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="Qwen2-VL and Qwen2.5-VL"):
        analyzer(tmp_path / "bert").setup()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"\[QwenVL\] Model = .*empty"):
        analyzer(tmp_path / "empty").setup()
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            analyzer(tmp_path, Device="cuda").setup()


def test_unreadable_frame_is_an_input_error_naming_it(tiny_qwen2, sampled_frames, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    frames = [*sampled_frames[:2], FrameRef(bad, 0.6, 0)]
    with pytest.raises(InputError, match="broken.jpg"):
        analyzer(tiny_qwen2).analyze(request(frames))
    with pytest.raises(InputError, match="no sampled frames"):
        analyzer(tiny_qwen2).analyze(request([]))


# -- output ----------------------------------------------------------------------------------------


def test_garbage_output_becomes_the_description_with_a_parse_warning(tiny_qwen2, sampled_frames, caplog):
    caplog.set_level(logging.WARNING, logger="videokit")
    result = analyzer(tiny_qwen2, MaxNewTokens=12).analyze(request(sampled_frames, "noise.mp4"))
    assert result.backend == "qwen" and result.model == "tiny-qwen2-vl"
    assert result.description  # the random model's reply, kept
    assert any("not valid JSON" in w for w in result.warnings)
    assert any("noise.mp4" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert result.usage["completion_tokens"] >= 1 and result.usage["prompt_tokens"] > 50


def test_a_json_reply_is_parsed_into_tags_answers_sentiment_and_category(tiny_qwen2, sampled_frames, monkeypatch):
    qa = analyzer(tiny_qwen2)
    reply = {
        "description": "A cyclist rides past a red car in the rain.",
        "answers": {QUESTIONS[0]: "Yes, a blue helmet.", QUESTIONS[1]: "Red."},
        "sentiment": {"label": "neutral", "score": 0.1, "reason": "an ordinary commute"},
        "tags": ["cycling", "rain", "car"],
        "category": "People & Vlogs",
    }
    GenerateSpy(monkeypatch, qa, reply="```json\n" + json.dumps(reply) + "\n```")
    result = qa.analyze(request(sampled_frames))
    assert result.description == reply["description"]
    assert result.answers == reply["answers"]
    assert result.sentiment is not None and result.sentiment.label == "neutral"
    assert [t.name for t in result.tags] == ["cycling", "rain", "car"]
    assert {t.origin for t in result.tags} == {"analyzer:qwen/tiny-qwen2-vl"}
    assert result.category == "People & Vlogs"
    assert result.warnings == []


def test_per_scene_mode_runs_one_request_per_scene_on_its_own_frames(tiny_qwen2, sampled_frames, monkeypatch):
    qa = analyzer(tiny_qwen2, MaxFrames=4, MaxPixels=20000)
    spy = GenerateSpy(monkeypatch, qa, reply='{"description": "a coloured test pattern", "tags": ["pattern"]}')
    result = qa.analyze(request(sampled_frames, per_scene=True))
    assert len(spy.calls) == 1 and spy.calls[0]["input_ids"].shape[0] == 3  # video + 2 scenes, one batch
    assert result.scene_descriptions == {"0": "a coloured test pattern", "1": "a coloured test pattern"}
    assert result.usage["requests"] == 3
    texts = spy.prompts()
    assert sum("frames come from these scenes" in t for t in texts) == 1  # only the whole-video request


def test_batched_generation_matches_one_video_at_a_time(tiny_qwen2, sampled_frames):
    """Left padding must not change what the model says about a video."""
    qa = analyzer(tiny_qwen2, MaxNewTokens=10, MaxPixels=20000, BatchSize=4)
    reqs = [
        request(sampled_frames[:2], "a.mp4"),
        request(sampled_frames, "b.mp4", questions=[]),
        request(sampled_frames[3:7], "c.mp4"),
    ]
    batched = qa.analyze_many(reqs)
    single = [qa.analyze(r) for r in reqs]
    assert [b.description for b in batched] == [s.description for s in single]
    assert [b.usage for b in batched] == [s.usage for s in single]


# -- Qwen2.5-VL ------------------------------------------------------------------------------------


def test_qwen25_gets_seconds_per_grid_from_the_real_sampling_fps(tiny_qwen25, tiny_qwen2, sampled_frames, monkeypatch):
    qa = analyzer(tiny_qwen25, MaxFrames=8, MaxPixels=20000)
    spy = GenerateSpy(monkeypatch, qa)
    every_other = sampled_frames[::2]  # 2 frames per second
    result = qa.analyze_many([request(sampled_frames, "four_fps.mp4"), request(every_other, "two_fps.mp4")])
    sec = spy.calls[0]["second_per_grid_ts"].tolist()
    # temporal_patch_size (2) / fps
    assert sec == pytest.approx([0.5, 1.0]) or sec == pytest.approx([1.0, 0.5])
    grids = spy.calls[0]["video_grid_thw"].tolist()
    by_frames = dict(zip([g[0] for g in grids], sec, strict=True))
    assert by_frames == pytest.approx({4: 0.5, 2: 1.0})
    assert all(r.model == "tiny-qwen2.5-vl" and r.description for r in result)

    qa2 = analyzer(tiny_qwen2, MaxPixels=20000)
    spy2 = GenerateSpy(monkeypatch, qa2)
    qa2.analyze(request(sampled_frames))
    assert "second_per_grid_ts" not in spy2.calls[0]  # Qwen2-VL has no such input


def test_checkpoint_without_chat_template_gets_qwens_chat_format(tiny_qwen2, sampled_frames, tmp_path, monkeypatch):
    import shutil

    plain = tmp_path / "no-template"
    shutil.copytree(tiny_qwen2, plain)
    (plain / "chat_template.jinja").unlink()
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))

    texts = []
    for folder in (tiny_qwen2, plain):
        qa = analyzer(folder, MaxFrames=2, MaxPixels=20000)
        spy = GenerateSpy(monkeypatch, qa, reply='{"description": "ok"}')
        qa.analyze(request(sampled_frames))
        texts.append(spy.prompts()[0])
    assert qa._loaded.tokenizer.chat_template is None
    assert texts[0] == texts[1]
