"""The builtin analyzer says what it measured in each scene and answers only what it measured.

The clip is generated: a dark scene, a red scene, a white scene with drawn text and a panning
test pattern, cut together, with a steady tone as audio. Scenes and their sampled frames come
from the real scene detector.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from media import ffmpeg
from videokit.analysis.base import AnalysisRequest, FrameRef
from videokit.analysis.builtin import BuiltinAnalyzer
from videokit.analysis.builtin_questions import NOT_ANSWERABLE, topic
from videokit.analysis.stage import pick_frames
from videokit.config import load_config
from videokit.probe import media_info
from videokit.record import Analysis, FileInfo, Record, SceneInfo
from videokit.scenes import detect_scenes

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
SEG = 1.5
QUESTIONS = [
    "What is the man cooking?",
    "Who won the match?",
    "What colour is the car?",
    "How fast is the runner?",
    "Is it night?",
    "How many scenes are there?",
    "Is there any text on screen?",
    "Are there any people?",
    "Is there music?",
    "What colours dominate?",
]


@pytest.fixture(scope="module")
def four_scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneInfo]:
    if not FONT.exists():
        pytest.skip("DejaVu font not installed")
    d = tmp_path_factory.mktemp("honest")
    video = d / "four.mp4"
    text = f"drawtext=fontfile={FONT}:text='OPEN DAILY':fontsize=36:fontcolor=black:x=(w-tw)/2:y=(h-th)/2"
    sources = [
        f"color=c=0x0c0c10:size=320x240:rate=25:duration={SEG}",
        f"color=c=0xd01818:size=320x240:rate=25:duration={SEG}",
        f"color=c=white:size=320x240:rate=25:duration={SEG},{text}",
        f"testsrc2=size=1280x240:rate=25:duration={SEG},crop=320:240:x='t*400':y=0",
    ]
    inputs = [a for s in sources for a in ("-f", "lavfi", "-i", s)]
    chains = ";".join(f"[{i}:v]setpts=PTS-STARTPTS,format=yuv420p[v{i}]" for i in range(len(sources)))
    concat = "".join(f"[v{i}]" for i in range(len(sources)))
    ffmpeg(
        *inputs,
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={SEG * len(sources)}",
        "-filter_complex",
        f"{chains};{concat}concat=n={len(sources)}:v=1:a=0[out]",
        "-map",
        "[out]",
        "-map",
        f"{len(sources)}:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(video),
    )
    info = detect_scenes(video, out_dir=d / "scenes")
    assert [s.start for s in info.scenes] == pytest.approx([0.0, 1.5, 3.0, 4.5], abs=0.1)
    return video, info


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> BuiltinAnalyzer:
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(tmp_path_factory.mktemp("lib"))})
    analyzer = BuiltinAnalyzer(cfg)
    analyzer.setup()
    return analyzer


def analyse(engine: BuiltinAnalyzer, video: Path, info: SceneInfo, max_frames: int = 16) -> Analysis:
    rec = Record(
        id=video.name,
        file=FileInfo(str(video), video.name, video.stat().st_size, video.name),
        media=media_info(video),
        scenes=info,
    )
    frames = pick_frames([FrameRef(Path(f.path), f.time, f.scene) for f in info.frames], max_frames)
    request = AnalysisRequest(
        video=video, record=rec, frames=frames, instruction="", questions=list(QUESTIONS), per_scene=True
    )
    return engine.analyze(request)


@pytest.fixture(scope="module")
def analysis(engine: BuiltinAnalyzer, four_scenes: tuple[Path, SceneInfo]) -> Analysis:
    return analyse(engine, *four_scenes)


def test_each_scene_says_what_was_measured_there(analysis: Analysis) -> None:
    texts = analysis.scene_descriptions
    assert set(texts) == {"0", "1", "2", "3"}
    dark, red, sign, pan = (texts[k] for k in ("0", "1", "2", "3"))
    assert "dark (mean brightness" in dark and "mostly red" not in dark
    assert "mostly red" in red and "dark" not in red
    assert "on-screen text reads" in sign and "OPEN DAILY" in sign.upper()
    assert "OPEN" not in dark.upper() and "no readable on-screen text" in red
    assert "large change between its frames" in pan
    assert "little change between its frames" in dark and "little change between its frames" in red
    for text in texts.values():
        assert "no frontal face detected" in text
        assert " s (" not in text and "-1.5" not in text  # no restated start and end times
    scenes = analysis.facts["scenes"]
    assert scenes["0"]["brightness"]["level"] == "dark" and scenes["1"]["colors"]["dominant"][0]["name"] == "red"


def test_questions_it_cannot_measure_are_not_answered_with_unrelated_facts(analysis: Analysis) -> None:
    for q in ("What is the man cooking?", "Who won the match?", "What colour is the car?", "How fast is the runner?"):
        assert analysis.answers[q] == NOT_ANSWERABLE, q
    assert any("cannot answer" in w and "What is the man cooking?" in w for w in analysis.warnings)


def test_questions_about_measurements_are_answered_from_them(analysis: Analysis) -> None:
    a = analysis.answers
    assert a["How many scenes are there?"].startswith("4 scenes (3 cuts)")
    assert "OPEN DAILY" in a["Is there any text on screen?"].upper()
    assert "no frontal face detected" in a["Are there any people?"]
    assert a["Is there music?"].startswith("Not detected:") and "steady tone" in a["Is there music?"]
    assert "red" in a["What colours dominate?"]
    assert a["Is it night?"].startswith("The picture is not dark")  # two of four scenes are bright
    assert all(v != NOT_ANSWERABLE for q, v in a.items() if q in QUESTIONS[4:])


def test_a_scene_without_a_sampled_frame_says_so(engine: BuiltinAnalyzer, four_scenes) -> None:
    a = analyse(engine, *four_scenes, max_frames=3)  # three frames cannot cover four scenes
    empty = [t for t in a.scene_descriptions.values() if "no sampled frame falls in this scene" in t]
    measured = [t for t in a.scene_descriptions.values() if "measured on 1 sampled frame of this scene" in t]
    assert len(empty) == 1 and len(measured) == 3
    assert all("motion not measured (one frame)" in t for t in measured)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Is it night?", "light"),
        ("Was it filmed at night-time?", "light"),
        ("Is there speech?", "speech"),
        ("Is anyone talking?", "speech"),
        ("What does the text say?", "text"),
        ("How many cuts are there?", "scenes"),
        ("Are there faces in the video?", "faces"),
        ("Is the camera moving?", "camera"),
        ("Which colour dominates?", "colors"),
        ("Is it silent?", "sound"),
        ("How long is the video?", "duration"),
        ("What is the man cooking?", None),
        ("What colour is the car?", None),
        ("Is the person happy?", None),
        ("What does the sign say?", None),
        ("Is there a light on the table?", None),
        ("Is it night and is anyone talking?", None),
        ("Who is in the video?", None),
    ],
)
def test_question_matching_is_strict(question: str, expected: str | None) -> None:
    assert topic(question) == expected


def test_faces_are_reported_in_the_scene_where_they_were_seen(engine: BuiltinAnalyzer, shared_media: Path, tmp_path):
    """A red scene, then 2 s of chaplin.mp4 where Chaplin faces the camera."""
    video = tmp_path / "red_then_chaplin.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=0xd01818:size=640x360:rate=25:duration=2",
        "-ss",
        "3.0",
        "-t",
        "2.0",
        "-i",
        str(shared_media / "chaplin.mp4"),
        "-filter_complex",
        "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1:a=0[o]",
        "-map",
        "[o]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(video),
    )
    info = detect_scenes(video, out_dir=tmp_path / "scenes")
    assert info.scenes[1].start == pytest.approx(2.0, abs=0.1)
    a = analyse(engine, video, info)
    red, chaplin = a.scene_descriptions["0"], a.scene_descriptions["1"]
    assert "no frontal face detected" in red and "mostly red" in red
    assert "a frontal face in" in chaplin and "no frontal face" not in chaplin
    assert a.facts["scenes"]["1"]["faces"]["frames_with_faces"] >= 2
