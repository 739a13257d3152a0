"""The analyze stage: frames from the scene stage or sampled, `none` backend, registry, `ask`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from videokit.analysis import AnalysisRequest, Analyzer, analyzers
from videokit.analysis.stage import AnalyzeStage
from videokit.config import load_config
from videokit.errors import InputError
from videokit.pipeline import Context
from videokit.probe import media_info
from videokit.record import Analysis, FileInfo, Frame, Record, Scene, SceneInfo


class Recorder(Analyzer):
    """A third-party-style backend registered by name; remembers what it was asked."""

    name = "recorder"
    seen: list[AnalysisRequest] = []
    setups = 0

    def setup(self) -> None:
        type(self).setups += 1

    def analyze(self, request: AnalysisRequest) -> Analysis:
        assert all(f.path.is_file() for f in request.frames)
        type(self).seen.append(request)
        return Analysis(backend=self.name, description="seen", scene_descriptions={"1": "second scene"})


analyzers.register("recorder")(Recorder)


@pytest.fixture(autouse=True)
def _reset():
    Recorder.seen, Recorder.setups = [], 0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("stage") / "clip.mp4", duration=3.0)


def cfg(tmp_path: Path, backend: str = "recorder", extra: dict | None = None):
    over = {
        ("Library", "Location"): str(tmp_path / "lib"),
        ("Analysis", "Backend"): backend,
        ("Analysis", "MaxFrames"): 4,
    }
    over.update(extra or {})
    return load_config(None, env={}, overrides=over)


def rec(clip: Path, digest: str = "d" * 64) -> Record:
    return Record(id=digest, file=FileInfo(str(clip), clip.name, clip.stat().st_size, digest), media=media_info(clip))


def test_samples_frames_itself_when_the_record_has_none(tmp_path, clip):
    stage = AnalyzeStage()
    for i in range(3):
        stage.process(rec(clip, str(i) * 64), Context(cfg(tmp_path)))
    assert Recorder.setups == 1  # once per process, not per video
    req = Recorder.seen[0]
    assert len(req.frames) == 4 and req.sampling["source"] == "uniform"
    assert [round(f.time, 2) for f in req.frames] == [0.38, 1.12, 1.88, 2.62]


def test_uses_scene_stage_frames_and_fills_scene_descriptions(tmp_path, clip):
    lib = tmp_path / "lib"
    (lib / "processed").mkdir(parents=True)
    frames = []
    for i, t in enumerate([0.5, 1.0, 2.0, 2.5, 2.8]):
        out = lib / "processed" / f"f{i}.jpg"
        ffmpeg("-ss", str(t), "-i", str(clip), "-frames:v", "1", str(out))
        frames.append(Frame(f"processed/f{i}.jpg", t, 0 if t < 1.5 else 1))
    r = rec(clip)
    r.scenes = SceneInfo(scenes=[Scene(0, 0, 1.5, 0, 37), Scene(1, 1.5, 3, 38, 75)], scene_count=2, frames=frames)
    AnalyzeStage().process(r, Context(cfg(tmp_path)))
    req = Recorder.seen[0]
    assert req.sampling["source"] == "scenes"
    assert [f.time for f in req.frames] == [0.5, 1.0, 2.5, 2.8]  # 4 of 5, spread
    assert r.analysis.description == "seen"
    assert r.scenes.scenes[1].description == "second scene"


def test_none_backend_skips_the_stage(tmp_path, clip):
    r = rec(clip)
    AnalyzeStage().process(r, Context(cfg(tmp_path, backend="none")))
    assert r.analysis is None and Recorder.seen == []


def test_missing_video_file_is_an_input_error(tmp_path, clip):
    r = rec(clip)
    r.file.path = str(tmp_path / "gone.mp4")
    with pytest.raises(InputError, match="gone.mp4: video file is missing"):
        AnalyzeStage().process(r, Context(cfg(tmp_path)))


def test_ask_with_an_unknown_id_says_what_to_do(tmp_path):
    from videokit._cli import main

    res = CliRunner().invoke(main, ["--library", str(tmp_path / "lib"), "ask", "deadbeef00", "Is it night?"])
    assert res.exit_code == 2
    assert "not a file and not an id in the library" in res.output


def test_ask_builtin_on_a_file_outside_the_library(tmp_path, clip):
    from videokit._cli import main

    res = CliRunner().invoke(
        main, ["--library", str(tmp_path / "lib"), "ask", "--analyzer", "builtin", str(clip), "Is there any sound?"]
    )
    assert res.exit_code == 0, res.output
    assert "Audio:" in res.output and "not stored" in res.output


class GpuRecorder(Recorder):
    """A plug-in backend that declares it needs a GPU."""

    name = "gpu-recorder"
    needs_gpu = True


analyzers.register("gpu-recorder")(GpuRecorder)


def test_the_analyzer_declares_where_the_stage_runs(tmp_path):
    from videokit.distributed.plan import stage_groups

    assert AnalyzeStage.from_config(cfg(tmp_path, backend="gpu-recorder")).resources == {"gpu"}
    assert AnalyzeStage.from_config(cfg(tmp_path, backend="recorder")).resources == {"cpu"}
    assert AnalyzeStage.from_config(cfg(tmp_path, backend="qwen")).resources == {"gpu"}
    assert AnalyzeStage.from_config(cfg(tmp_path, backend="builtin")).resources == {"cpu"}
    assert AnalyzeStage.from_config(cfg(tmp_path, backend="none")) is None
    queues = {name: queue for queue, names in stage_groups(cfg(tmp_path, "gpu-recorder")) for name in names}
    assert queues["analyze"] == "gpu" and queues["probe"] == "cpu"
    queues = {name: queue for queue, names in stage_groups(cfg(tmp_path, "recorder")) for name in names}
    assert queues["analyze"] == "cpu"


def test_batch_size_is_known_before_setup_without_loading_a_model(tmp_path, monkeypatch):
    import videokit.analysis.qwen as qwen

    def no_loading(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(qwen, "load_model", no_loading)
    model = tmp_path / "model"
    model.mkdir()
    over = {("QwenVL", "Model"): str(model), ("QwenVL", "BatchSize"): 3}
    assert AnalyzeStage.from_config(cfg(tmp_path, "qwen", over)).batch_size == 3
    api = {("QwenVL", "PublicEndpoint"): "http://127.0.0.1:9/v1", ("QwenVL", "MaxConcurrentRequests"): 5}
    assert AnalyzeStage.from_config(cfg(tmp_path, "api", api)).batch_size == 5
    assert AnalyzeStage.from_config(cfg(tmp_path)).batch_size == 1  # a backend that does not batch
