"""Clip labels (`--label-from csv|tags|category|answer`, `--classes`, `--multi-label`,
`--unlabeled skip|keep`): where each label comes from, single or multi-label, clips without a label
skipped or kept as `unlabeled` and counted, and a mapping entry no selected video has refused in one
line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videokit.analysis.builtin_questions import NOT_ANSWERABLE
from videokit.dataset.labels import (
    UNLABELED,
    LabelOptions,
    LabelReport,
    assign_labels,
    check_labels,
    parse_classes,
)
from videokit.dataset.model import ClipPlan
from videokit.errors import ConfigError, UsageError
from videokit.record import Analysis, Classification, Record, Segment, Source, Tag

QUESTION = "What action is being performed?"


def video(
    vid: str,
    *,
    segments: list[Segment] | None = None,
    fields: dict[str, str] | None = None,
    tags: list[Tag] | None = None,
    category: str | None = None,
    answers: dict[str, str] | None = None,
) -> Record:
    return Record(
        id=vid,
        sources=[Source(input=f"/videos/{vid}.mp4", user_fields=fields or {}, segments=segments or [])],
        tags=tags or [],
        classification=Classification(category=category) if category else None,
        analysis=Analysis(backend="test", answers=answers) if answers is not None else None,
    )


def plan(vid: str, start: float, end: float, kind: str = "window", labels: list[str] | None = None) -> ClipPlan:
    return ClipPlan(vid, Path(f"/videos/{vid}.mp4"), 0, start, end, kind, labels=list(labels or []))


def label(plans: list[ClipPlan], records: list[Record], **options: object) -> LabelReport:
    opts = check_labels(LabelOptions(**options), records)  # type: ignore[arg-type]
    return assign_labels(plans, {r.id: r for r in records if r.id}, opts)


# -- csv -------------------------------------------------------------------------------------


def test_csv_labels_come_from_the_segment_the_clip_was_cut_from() -> None:
    rec = video(
        "v1",
        segments=[Segment(0, 2, "wave", "train"), Segment(2, 4, "clap"), Segment(2, 4, "cheer"), Segment(6, 8)],
        fields={"Label": "party"},
    )
    plans = [plan("v1", 0, 2, "segment"), plan("v1", 2, 4, "segment"), plan("v1", 6, 8, "segment")]
    report = label(plans, [rec])
    assert [p.labels for p in plans] == [["wave"], ["clap"], ["party"]]  # a segment without a label: the video's
    assert (report.labelled, report.unlabeled_skipped, report.unlabeled_kept) == (3, 0, 0)
    assert report.per_class == {"clap": 1, "party": 1, "wave": 1} and report.classes == ["clap", "party", "wave"]

    multi = [plan("v1", 2, 4, "segment")]
    label(multi, [rec], multi_label=True)
    assert multi[0].labels == ["clap", "cheer"]  # two rows, one span: both labels


def test_csv_labels_of_scene_and_window_clips_come_from_the_segments_covering_them() -> None:
    rec = video("v1", segments=[Segment(0, 10, "run"), Segment(8, 20, "jump")])
    plans = [plan("v1", 0, 4), plan("v1", 7, 11), plan("v1", 9, 12), plan("v1", 25, 30)]
    report = label(plans, [rec], unlabeled="keep")
    # 7-11: 3 s of run and 3 s of jump, each more than half of it: most overlap first, then list order
    assert [p.labels for p in plans] == [["run"], ["run"], ["jump"], [UNLABELED]]
    assert (report.labelled, report.unlabeled_kept) == (3, 1)
    assert report.classes == ["jump", "run", UNLABELED] and report.per_class[UNLABELED] == 1
    both = [plan("v1", 8, 11)]  # 2 s of run, 3 s of jump
    label(both, [rec], multi_label=True)
    assert both[0].labels == ["jump", "run"]


def test_a_segment_plan_whose_span_moved_keeps_the_planners_label() -> None:
    rec = video("v1", segments=[Segment(0, 2, "wave")])
    plans = [plan("v1", 0.5, 2, "segment", labels=["wave"])]
    label(plans, [rec])
    assert plans[0].labels == ["wave"]


def test_clips_without_a_label_are_skipped_and_counted() -> None:
    records = [video("v1", fields={"label": "dance"}), video("v2")]
    plans = [plan("v1", 0, 1), plan("v2", 0, 1), plan("v2", 1, 2)]
    report = label(plans, records)
    assert [(p.video_id, p.labels) for p in plans] == [("v1", ["dance"])]  # the others left the list
    assert (report.labelled, report.unlabeled_skipped, report.unlabeled_kept) == (1, 2, 0)
    assert report.summary() == "1 clip(s) labelled; 2 without a label skipped; classes: dance 1"


def test_a_csv_mapping_renames_and_restricts_classes() -> None:
    rec = video("v1", segments=[Segment(0, 1, "Playing guitar"), Segment(1, 2, "strumming guitar"), Segment(2, 3, "x")])
    plans = [plan("v1", 0, 1, "segment"), plan("v1", 1, 2, "segment"), plan("v1", 2, 3, "segment")]
    classes = parse_classes("playing guitar=guitar,Strumming Guitar=guitar")
    report = label(plans, [rec], classes=classes)
    assert [p.labels for p in plans] == [["guitar"], ["guitar"]]
    assert report.per_class == {"guitar": 2} and report.unlabeled_skipped == 1


# -- tags, category, answer ------------------------------------------------------------------


def test_tags_mapped_to_classes_single_and_multi_label() -> None:
    rec = video(
        "v1",
        tags=[Tag("Outdoor", "rule:out", 0.6), Tag("Sports", "analyzer:api/m", 0.9), Tag("Music", "user", 0.9)],
    )
    classes = {"music": "music", "Sports": "sport", "Outdoor": "outside"}
    single = [plan("v1", 0, 1)]
    label(single, [rec], source="tags", classes=classes)
    assert single[0].labels == ["sport"]  # most confident; a tie goes to the tag listed first
    multi = [plan("v1", 0, 1)]
    report = label(multi, [rec], source="tags", classes=classes, multi_label=True)
    assert multi[0].labels == ["sport", "music", "outside"]
    assert report.classes == ["music", "sport", "outside"]  # the mapping's order: a stable class index


def test_tags_need_a_mapping_and_an_unknown_tag_is_refused_naming_it() -> None:
    with pytest.raises(UsageError, match="--label-from tags needs --classes"):
        LabelOptions(source="tags")
    records = [video("v1", tags=[Tag("Outdoor", "rule:out")]), video("v2", tags=[Tag("Sports", "user")])]
    with pytest.raises(ConfigError) as err:
        check_labels(LabelOptions(source="tags", classes={"Outdor": "out", "Sports": "s", "Nope": "n"}), records)
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        "--classes: tags 'Outdor' (did you mean 'Outdoor'?), 'Nope' are on none of the selected videos; "
        "fix the mapping or leave it out"
    )


def test_category_labels_skip_unclassified() -> None:
    records = [video("v1", category="Sports"), video("v2", category="Unclassified"), video("v3")]
    plans = [plan("v1", 0, 1), plan("v2", 0, 1), plan("v3", 0, 1)]
    report = label(plans, records, source="category", unlabeled="keep")
    assert [p.labels for p in plans] == [["Sports"], [UNLABELED], [UNLABELED]]
    assert (report.labelled, report.unlabeled_kept) == (1, 2)
    with pytest.raises(ConfigError, match="--classes: category 'Sprots' .*did you mean 'Sports'"):
        check_labels(LabelOptions(source="category", classes={"Sprots": "sport"}), records)


def test_answers_as_labels_with_and_without_a_mapping() -> None:
    records = [
        video("v1", answers={QUESTION: "Playing guitar."}),
        video("v2", answers={QUESTION: "The man is singing while playing guitar"}),
        video("v3", answers={QUESTION: NOT_ANSWERABLE}),
    ]
    plans = [plan("v1", 0, 1), plan("v2", 0, 1), plan("v3", 0, 1)]
    report = label(plans, records, source="answer")  # the one question asked is found
    assert [p.labels for p in plans] == [["playing guitar"], ["the man is singing while playing guitar"]]
    assert report.unlabeled_skipped == 1

    mapped = [plan("v1", 0, 1), plan("v2", 0, 1)]
    classes = {"guitar": "guitar", "singing": "singing"}
    label(mapped, records, source="answer", question="what action is being performed", classes=classes)
    assert [p.labels for p in mapped] == [["guitar"], ["singing"]]  # whole words, in reading order
    label(mapped, records, source="answer", classes=classes, multi_label=True)
    assert mapped[1].labels == ["singing", "guitar"]


def test_answer_source_needs_a_question_the_videos_were_asked() -> None:
    records = [video("v1", answers={QUESTION: "running", "Is it indoors?": "no"})]
    with pytest.raises(ConfigError, match=r"answers to 2 questions .*give --question"):
        check_labels(LabelOptions(source="answer"), records)
    with pytest.raises(ConfigError, match=r"--question 'Who\?': no selected video has an answer to it; stored"):
        check_labels(LabelOptions(source="answer", question="Who?"), records)
    with pytest.raises(ConfigError, match=r"--classes: answer 'swimming' is on none of the selected videos"):
        check_labels(LabelOptions(source="answer", question=QUESTION, classes={"swimming": "swim"}), records)
    opts = check_labels(LabelOptions(source="answer", question=" what ACTION is being performed "), records)
    assert opts.question == QUESTION


def test_bad_option_values_are_refused() -> None:
    with pytest.raises(UsageError, match="--label-from 'title' is unknown; choose one of csv, tags, category, answer"):
        LabelOptions(source="title")
    with pytest.raises(UsageError, match="--unlabeled 'drop' is unknown; choose one of skip, keep"):
        LabelOptions(unlabeled="drop")


# -- --classes -------------------------------------------------------------------------------


def test_parse_classes_from_a_list_json_and_csv(tmp_path: Path) -> None:
    assert parse_classes("Sports=sport, Music = music ,Dance") == {
        "Sports": "sport",
        "Music": "music",
        "Dance": "Dance",
    }
    by_value = tmp_path / "map.json"
    by_value.write_text(json.dumps({"Sports": "sport", "Football": "sport"}))
    assert parse_classes(str(by_value)) == {"Sports": "sport", "Football": "sport"}
    by_class = tmp_path / "classes.json"
    by_class.write_text(json.dumps({"sport": ["Sports", "Football"], "music": ["Music"]}))
    assert parse_classes(by_class) == {"Sports": "sport", "Football": "sport", "Music": "music"}
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(["run", "jump"]))
    assert parse_classes(str(listed)) == {"run": "run", "jump": "jump"}
    table = tmp_path / "classes.csv"
    table.write_text("tag,class\nSports,sport\nMusic,music\nDance\n")
    assert parse_classes(str(table)) == {"Sports": "sport", "Music": "music", "Dance": "Dance"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sports=sport,sports=games", "'sports' is mapped to both 'sport' and 'games'; keep one of them"),
        ("Sports=,Music=music", "entry Sports= has an empty side"),
        ("missing.json", "--classes missing.json: file not found"),
        (",", "no class given"),
    ],
)
def test_bad_class_mappings_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")) as err:
        parse_classes(text)
    assert "\n" not in str(err.value)


def test_bad_class_files_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        parse_classes(str(broken))
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"a": {"b": "c"}}))
    with pytest.raises(ConfigError, match="nested.json: expected an object of value -> class"):
        parse_classes(str(nested))
    text = tmp_path / "classes.txt"
    text.write_text("a=b")
    with pytest.raises(ConfigError, match="classes.txt: give a .json or .csv file"):
        parse_classes(str(text))
