"""The library API (``videokit.api``, re-exported by ``videokit``): documented, complete, and each
operation working on a small library built from a generated video."""

from __future__ import annotations

import csv
import inspect
import json
import pkgutil
import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import videokit
from videokit import api
from videokit._cli import main
from videokit.config import Config, load_config
from videokit.errors import ConfigError, InputError, StoreError, UsageError
from videokit.record import FileInfo, MediaInfo, Record, Source
from videokit.store import Query, open_store

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
QUIET_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def _library_api_section() -> str:
    start = README.index("## Library API")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, path + " ")
    return out


def _public_functions() -> dict[str, Any]:
    return {
        name: obj
        for name, obj in vars(api).items()
        if inspect.isfunction(obj) and not name.startswith("_") and obj.__module__ == api.__name__
    }


def _documented(obj: Any) -> bool:
    doc = inspect.getdoc(obj) or ""
    # a dataclass without a docstring gets "Name(field: type, ...)" written for it
    return bool(doc.strip()) and not doc.startswith(f"{getattr(obj, '__name__', '')}(")


# -- the surface is documented and complete ----------------------------------------------------


def test_every_cli_command_has_help_and_is_in_the_readme() -> None:
    commands = _commands(main)
    assert {"run", "submit", "search", "show", "ask", "tag", "retag", "export", "status", "retry", "migrate"} <= {
        p for p, _ in commands
    }
    no_help = [p for p, cmd in commands if not (cmd.help or "").strip()]
    missing = [p for p, _ in commands if not re.search(rf"videokit {re.escape(p)}\b", README)]
    assert not no_help, f"commands without help text: {no_help}"
    assert not missing, f"commands not mentioned in README.md: {missing}"


def test_every_public_api_function_is_documented_exported_and_in_the_readme() -> None:
    functions = _public_functions()
    assert {"run", "submit", "search", "get", "ask", "edit_tags", "retag", "export_library", "status"} <= set(functions)
    assert {"retry", "migrate"} <= set(functions)
    section = _library_api_section()
    assert [n for n, f in functions.items() if not _documented(f)] == []
    assert [n for n in functions if n not in videokit.__all__] == []
    assert [n for n in functions if not re.search(rf"\b{n}\(", section)] == []


def test_every_name_videokit_exports_is_documented_and_in_the_readme() -> None:
    section = _library_api_section()
    callables = [n for n in videokit.__all__ if callable(getattr(videokit, n))]  # constants carry no docstring
    assert [n for n in callables if not _documented(getattr(videokit, n))] == []
    assert [n for n in videokit.__all__ if not re.search(rf"\b{n}\b", section)] == []
    # every dataclass the API returns is exported and documented too
    types = [n for n, o in vars(api).items() if inspect.isclass(o) and o.__module__ == api.__name__]
    assert [n for n in types if n not in videokit.__all__ or not _documented(getattr(api, n))] == []


def test_exported_names_are_the_api_objects_and_no_submodule_shadows_them() -> None:
    submodules = {m.name for m in pkgutil.iter_modules(videokit.__path__)}
    assert sorted(set(videokit.__all__) & submodules) == []  # `import videokit.x` would replace videokit.x
    for name in videokit.__all__:
        if hasattr(api, name):
            assert getattr(videokit, name) is getattr(api, name)
    assert videokit.Query is Query and videokit.Config is Config
    with pytest.raises(AttributeError):
        videokit.no_such_name  # noqa: B018


def test_the_library_never_imports_the_command_line_and_batch_never_imports_the_api() -> None:
    src = Path(videokit.__file__).parent
    offenders = []
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).as_posix()
        text = path.read_text(encoding="utf-8")
        if not rel.startswith("_cli/") and re.search(r"^\s*(from|import) videokit\._cli", text, re.M):
            offenders.append(rel)
        if rel.startswith(("batch/", "distributed/")) and re.search(
            r"^\s*(from videokit\.api |import videokit\.api\b|from videokit import .*\bapi\b)", text, re.M
        ):
            offenders.append(rel)
    assert offenders == []


# -- a small library --------------------------------------------------------------------------


def config_for(library: Path, overrides: dict[tuple[str, str], Any] | None = None) -> Config:
    return load_config(None, env={}, overrides={("Library", "Location"): str(library), **(overrides or {})})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    """A library holding the sample clip (no analysis), built through the API."""
    lib = tmp_path_factory.mktemp("built") / "lib"
    result = api.run([str(sample_video)], config_for(lib), skip=["analyze"])
    assert result.ok, result.failures
    return lib


@pytest.fixture
def lib(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built library, for tests that change it."""
    copy = tmp_path / "lib-copy"
    shutil.copytree(built, copy)
    return copy


@pytest.fixture
def cfg(lib: Path) -> Config:
    return config_for(lib)


def only_id(cfg: Config) -> str:
    (rec,) = api.search(cfg)
    assert rec.id
    return rec.id


RULES = {
    "rules": [
        {
            "id": "tiny",
            "description": "clips under ten seconds",
            "metadata_conditions": {"duration_lt": 10},
            "tags": ["Tiny"],
        }
    ]
}


def write_rules(folder: Path) -> Path:
    path = folder / "my_rules.json"
    path.write_text(json.dumps(RULES), encoding="utf-8")
    return path


# -- the library ------------------------------------------------------------------------------


def test_search_count_and_get(cfg: Config) -> None:
    found = api.search(cfg, Query(text="sample"))
    assert [r.title for r in found] == ["Sample Clip"]
    assert api.search(cfg, Query(text="nothing-like-this")) == []
    assert api.count(cfg) == 1 and api.count(cfg, Query(min_height=1000)) == 0
    rid = found[0].id
    assert api.get(cfg, rid).title == "Sample Clip"
    assert api.get(cfg, rid[:8]).id == rid  # a prefix is enough
    with pytest.raises(InputError, match="no video with id 'ffffffffff'"):
        api.get(cfg, "ffffffffff")


def test_get_with_a_prefix_of_two_ids_is_an_input_error(tmp_path: Path) -> None:
    cfg = config_for(tmp_path / "lib")
    with open_store(cfg) as store:
        for rid in ("abcdef" + "0" * 58, "abcdef" + "1" * 58):
            store.upsert(Record(id=rid, sources=[Source(f"/v/{rid[-1]}.mp4")], file=FileInfo("/v/x", "x", 1, rid)))
    assert api.get(cfg, "abcdef0").id == "abcdef" + "0" * 58
    with pytest.raises(InputError):
        api.get(cfg, "abcdef")


def test_retag_explain_list_and_check_rules(cfg: Config, tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    rid = only_id(cfg)

    dry = api.retag(cfg, rules=rules, dry_run=True)
    assert (dry.records, dry.changed, dry.tags_added) == (1, 1, 1)
    assert "Tiny" not in api.get(cfg, rid).tag_names()  # a dry run writes nothing
    done = api.retag(cfg, Query(text="sample"), rules=rules)
    assert done.changed == 1 and "Tiny" in api.get(cfg, rid).tag_names()
    assert api.retag(cfg, rules=rules).changed == 0

    why = api.explain(cfg, rid[:8], rules=rules)
    fired = {r.rule.origin: r.fired for r in why.rules}
    assert fired["rule:tiny"] is True and why.record.id == rid
    assert why.decision.category
    with pytest.raises(InputError):
        api.explain(cfg, "0123456789")

    origins = [r.origin for r in api.list_rules(cfg, rules=rules)]
    assert origins[-1] == "rule:tiny" and "rule:tiny" not in [r.origin for r in api.list_rules(cfg)]

    summary = api.check_rules(config_for(Path(cfg.library), {("Rules", "CustomTagRules"): str(rules)}))
    assert summary.custom_rules == 1 and summary.builtin_rules > 0 and summary.categories > 1
    check = api.check_rules_file(rules)
    assert (check.kind, check.names) == ("rules", ["tiny"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"id": "x", "tags": []}]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.json"):
        api.check_rules_file(bad)


def test_edit_tags(cfg: Config) -> None:
    rid = only_id(cfg)
    edit = api.edit_tags(cfg, rid[:8], add=["Action"])
    assert edit.added == ["Action"] and edit.record.classification.category == "Action"
    assert [r.id for r in api.search(cfg, Query(tags=["action"]))] == [rid]


def test_export_with_a_registered_format_and_a_usage_error_naming_them(cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "videos.csv"
    report = api.export_library(cfg, "csv", out, Query(text="sample"))
    assert (report.format, report.out, report.count) == ("csv", out, 1)
    with open(out, encoding="utf-8") as fh:
        assert [row["title"] for row in csv.DictReader(fh)] == ["Sample Clip"]
    with pytest.raises(UsageError) as e:
        api.export_library(cfg, "xml", tmp_path / "x.xml")
    assert "'xml'" in str(e.value) and "csv, json, jsonl" in str(e.value)


def test_a_plug_in_exporter_is_a_choice_of_export_format(lib: Path, tmp_path: Path) -> None:
    """``--format`` offers what the exporters registry holds when the command runs."""
    from videokit.export import exporters

    plug = tmp_path / "plug"
    (plug / "vk_titles-1.0.dist-info").mkdir(parents=True)
    (plug / "vk_titles-1.0.dist-info" / "METADATA").write_text("Name: vk-titles\nVersion: 1.0\n")
    (plug / "vk_titles-1.0.dist-info" / "entry_points.txt").write_text(
        "[videokit.exporters]\ntitles = vk_titles:export_titles\n"
    )
    (plug / "vk_titles.py").write_text(
        textwrap.dedent(
            """
            def export_titles(records, out):
                titles = [r.title for r in records]
                out.write_text("\\n".join(titles) + "\\n")
                return len(titles)
            """
        )
    )
    sys.path.insert(0, str(plug))
    exporters.reload()
    try:
        out = tmp_path / "titles.txt"
        res = CliRunner().invoke(main, ["--library", str(lib), "export", "--format", "titles", "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert out.read_text() == "Sample Clip\n" and "exported 1 video(s)" in res.stderr
        assert "titles" in CliRunner().invoke(main, ["export", "--help"]).output
    finally:
        sys.path.remove(str(plug))
        sys.modules.pop("vk_titles", None)
        exporters.reload()
    res = CliRunner().invoke(main, ["--library", str(lib), "export", "--format", "titles", "--out", str(out)])
    assert res.exit_code == 2 and "'titles' is not one of" in res.output


def test_migrate_copies_once_and_refuses_the_same_store(cfg: Config, tmp_path: Path) -> None:
    other = tmp_path / "other"
    first = api.migrate(cfg, to=str(other))
    assert (first.report.copied, first.report.unchanged) == (1, 0)
    assert first.destination.endswith("library.sqlite") and first.source != first.destination
    assert api.migrate(cfg, to=str(other)).report.unchanged == 1
    assert api.count(config_for(other)) == 1
    ticks: list[tuple[int, int]] = []
    back = api.migrate(cfg, to=str(tmp_path / "third"), from_=str(other), progress=lambda d, t: ticks.append((d, t)))
    assert back.report.copied == 1 and ticks == [(1, 1)]
    with pytest.raises(UsageError, match="same store"):
        api.migrate(cfg, to=str(cfg.library))


# -- asking -------------------------------------------------------------------------------------


def test_ask_answers_stores_and_reports_bad_targets(cfg: Config, sample_video: Path, tmp_path: Path) -> None:
    rid = only_id(cfg)
    question = "Is there any sound?"
    answer = api.ask(cfg, rid[:10], question, analyzer="builtin")
    assert answer.answer and answer.stored and answer.question == question
    assert api.get(cfg, rid).analysis.answers[question] == answer.answer

    loose = tmp_path / "loose.mp4"  # same content, not the stored path: found by its content id
    shutil.copy(sample_video, loose)
    again = api.ask(cfg, str(loose), question, analyzer="builtin")
    assert again.record.id == rid and again.answer == answer.answer

    with pytest.raises(UsageError, match="not a file and not an id"):
        api.ask(cfg, "deadbeef00", question, analyzer="builtin")
    with pytest.raises(UsageError, match="question is empty"):
        api.ask(cfg, rid, "  ", analyzer="builtin")
    with pytest.raises(UsageError, match="Backend is 'none'"):
        api.ask(cfg, rid, question, analyzer="none")
    with pytest.raises(UsageError, match="not the video of"):
        api.ask(cfg, rid, question, analyzer="builtin", video=write_rules(tmp_path))


# -- batches ----------------------------------------------------------------------------------


def test_status_and_retry_after_a_failed_input(tmp_path: Path, sample_video: Path) -> None:
    cfg = config_for(tmp_path / "lib")
    assert api.status(cfg).exists is False
    assert not (tmp_path / "lib" / "ledger.sqlite").exists()  # status only reads

    late = tmp_path / "late.mp4"  # given before it exists: the input fails
    result = api.run([str(sample_video), str(late)], cfg, skip=["analyze"])
    assert [bool(r.errors) for r in result.records] == [False, True]

    st = api.status(cfg)
    assert st.exists and st.inputs == 2 and st.jobs["done"] == 1 and st.jobs["failed"] == 1
    assert [f.input for f in st.failures] == [str(late)] and st.failures[0].kind == "permanent"
    assert st.broker is None
    assert st.stages["fetch"] == {"done": 1, "failed": 1} and st.stages["store"] == {"done": 1}
    assert list(st.stages) == [s for s in api.stage_names() if s in st.stages]  # in pipeline order

    assert api.retry(cfg, transient_only=True).nothing_to_retry
    shutil.copy(sample_video, late)
    retried = api.retry(cfg)
    assert retried.ok and len(retried.records) == 1 and not retried.resubmitted
    assert api.status(cfg).jobs["failed"] == 0
    assert api.retry(cfg).nothing_to_retry


def test_submit_keeps_inputs_pending_when_the_broker_is_down(tmp_path: Path, sample_video: Path) -> None:
    cfg = config_for(tmp_path / "lib", {("Celery", "BrokerURL"): QUIET_BROKER})
    with pytest.raises(UsageError, match="priority"):
        api.submit(cfg, [str(sample_video)], priority="urgent")
    with pytest.raises(UsageError, match="nothing is pending"):
        api.submit(cfg)
    with pytest.raises(StoreError):
        api.submit(cfg, [str(sample_video)], priority="high")
    st = api.status(cfg)
    assert st.jobs["pending"] == 1
    assert st.broker is not None and st.broker.error and st.broker.url == QUIET_BROKER
    with pytest.raises(StoreError):
        api.submit(cfg)  # the pending one is sent again, and the broker is still down


def test_run_worker_checks_queues_and_broker_before_serving(tmp_path: Path) -> None:
    cfg = config_for(tmp_path / "lib", {("Celery", "BrokerURL"): QUIET_BROKER})
    with pytest.raises(UsageError, match="unknown queue"):
        api.run_worker(cfg, ["io", "tpu"])
    with pytest.raises(StoreError):
        api.run_worker(cfg, "io,cpu")


# -- single files and set-up ------------------------------------------------------------------


def test_probe_file_and_find_scenes(sample_video: Path, tmp_path: Path) -> None:
    info = api.probe_file(sample_video)
    assert isinstance(info, MediaInfo) and (info.width, info.height) == (320, 240) and info.has_audio
    with pytest.raises(InputError):
        api.probe_file(tmp_path / "missing.mp4")
    scenes = api.find_scenes(config_for(tmp_path / "lib"), sample_video)
    assert scenes.scene_count >= 1 and scenes.scenes[-1].end == pytest.approx(2.0, abs=0.1)
    assert not (tmp_path / "lib").exists()  # no library needed


def test_init_writes_the_config_once(tmp_path: Path) -> None:
    written = api.init(tmp_path / "proj")
    assert [p.name for p in written] == ["config.ini", "custom_tags.json", "priority_keywords.json"]
    assert "[Library]" in (tmp_path / "proj" / "config.ini").read_text()
    with pytest.raises(UsageError, match="exists; use --force"):
        api.init(tmp_path / "proj")
    assert api.init(tmp_path / "proj", force=True)[0].name == "config.ini"
