from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from videokit._cli import main
from videokit.config import SCHEMA, load_config, render_ini
from videokit.errors import ConfigError


def test_defaults_without_file(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "none.ini" if False else None, env={})
    assert cfg.get("SceneDetection", "DefaultThreshold") == 27.0
    assert cfg.get("Concurrency", "MaxWorkers") == 1
    assert cfg.library == (tmp_path / "videokit-library").resolve()


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[Concurrency]\nMaxWorkers = 3\n[SceneDetection]\nDefaultThreshold = 30\n")
    cfg = load_config(ini, env={"VIDEOKIT_CONCURRENCY_MAXWORKERS": "5"})
    assert cfg.get("Concurrency", "MaxWorkers") == 5  # env beats file
    assert cfg.get("SceneDetection", "DefaultThreshold") == 30.0  # file beats default
    cfg2 = cfg.with_overrides({("Concurrency", "MaxWorkers"): 7})
    assert cfg2.get("Concurrency", "MaxWorkers") == 7  # flag beats env
    assert cfg2.origins[("Concurrency", "MaxWorkers")] == "flag"


def test_env_names_follow_pattern(tmp_path: Path) -> None:
    cfg = load_config(
        None, env={"VIDEOKIT_RULES_CUSTOMTAGRULES": "/x/rules.json", "VIDEOKIT_QWENVL_MODEL": "/models/tiny"}
    )
    assert cfg.get("Rules", "CustomTagRules") == "/x/rules.json"
    assert cfg.get("QwenVL", "Model") == "/models/tiny"


def test_relative_paths_in_file_are_relative_to_it(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "config.ini").write_text("[Library]\nLocation = lib\n[Paths]\nDownloadDirectory = dl\n")
    cfg = load_config(d / "config.ini", env={})
    assert cfg.library == d / "lib"
    assert cfg.download_dir == d / "dl"
    assert cfg.processed_dir == d / "lib" / "processed"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[Nope]\nx = 1\n", "unknown section [Nope]"),
        ("[Concurrency]\nMaxWorkerz = 2\n", "unknown key 'MaxWorkerz' in [Concurrency]"),
        ("[Concurrency]\nMaxWorkers = many\n", "bad value for [Concurrency] MaxWorkers"),
        ("[SceneDetection]\nMode = fancy\n", "bad value for [SceneDetection] Mode"),
        ("[MongoDB]\nStoreVideos = perhaps\n", "bad value for [MongoDB] StoreVideos"),
        ("no section header\n", "not a valid ini file"),
    ],
)
def test_bad_config_is_one_line_error_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text(text)
    res = CliRunner().invoke(main, ["--config", str(ini), "search"])
    assert res.exit_code == 2
    assert needle in res.output
    assert str(ini) in res.output
    assert "Traceback" not in res.output


def test_bad_env_value_names_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOKIT_CONCURRENCY_MAXWORKERS", "0")
    res = CliRunner().invoke(main, ["search"])
    assert res.exit_code == 2
    assert "VIDEOKIT_CONCURRENCY_MAXWORKERS" in res.output


def test_unreadable_config(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_bytes(b"\xff\xfe\x00bad")
    res = CliRunner().invoke(main, ["--config", str(ini), "search"])
    assert res.exit_code == 2
    assert "cannot read config file" in res.output
    missing = CliRunner().invoke(main, ["--config", str(tmp_path / "missing.ini"), "search"])
    assert missing.exit_code == 2
    assert "not found" in missing.output


def test_init_writes_commented_config_that_loads(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["init", str(tmp_path / "proj")])
    assert res.exit_code == 0, res.output
    ini = tmp_path / "proj" / "config.ini"
    text = ini.read_text()
    for section in SCHEMA:
        assert f"[{section}]" in text
    assert "# " in text
    load_config(ini, env={})  # round-trips with every default
    assert (tmp_path / "proj" / "custom_tags.json").exists()
    assert (tmp_path / "proj" / "priority_keywords.json").exists()
    again = CliRunner().invoke(main, ["init", str(tmp_path / "proj")])
    assert again.exit_code == 2


def test_secrets_not_written_by_init() -> None:
    text = render_ini()
    assert "\nURI =" not in text  # commented out: set VIDEOKIT_MONGODB_URI instead
    assert "VIDEOKIT_MONGODB_URI" in text


def test_moved_analysis_keys_still_work_with_one_deprecation_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[QwenVL]\nBackend = none\nQuestions = Is it night? | Who is there?\nModel = /models/x\n")
    cfg = load_config(ini, env={})
    assert cfg.get("Analysis", "Backend") == "none"
    assert cfg.get("Analysis", "Questions") == ["Is it night?", "Who is there?"]
    assert cfg.get("QwenVL", "Model") == "/models/x"  # Qwen-specific keys stay where they were
    msgs = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert msgs == [
        f"{ini}: [QwenVL] Backend is deprecated; set it as [Analysis] Backend",
        f"{ini}: [QwenVL] Questions is deprecated; set it as [Analysis] Questions",
    ]
    env = load_config(None, env={"VIDEOKIT_QWENVL_PERSCENE": "true"})
    assert env.get("Analysis", "PerScene") is True
    # the new place wins over the old one
    ini.write_text("[QwenVL]\nBackend = none\n[Analysis]\nBackend = builtin\n")
    assert load_config(ini, env={}).get("Analysis", "Backend") == "builtin"


def test_unknown_analyzer_or_store_names_the_choices(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[Analysis]\nBackend = gpt9\n")
    with pytest.raises(
        ConfigError, match=r"bad value for \[Analysis\] Backend: expected one of api, builtin, .*qwen.*none, got 'gpt9'"
    ):
        load_config(ini, env={})
    ini.write_text("[Library]\nStore = postgres\n")
    with pytest.raises(ConfigError, match=r"\[Library\] Store: expected one of .*mongodb.*sqlite.*, got 'postgres'"):
        load_config(ini, env={})


def test_whether_a_setting_changes_results_is_declared_on_it() -> None:
    from videokit.batch.settings import settings_hash

    base = load_config(env={})
    h = settings_hash(base)
    neutral = {("Concurrency", "MaxWorkers"): 3, ("QwenVL", "BatchSize"): 8, ("Download", "Retries"): 1}
    assert settings_hash(base.with_overrides(neutral)) == h
    assert SCHEMA["QwenVL"]["BatchSize"].affects_results is False
    assert SCHEMA["Analysis"]["MaxFrames"].affects_results is True
    for changing in ({("SceneDetection", "DefaultThreshold"): 30}, {("Analysis", "MaxFrames"): 3}):
        assert settings_hash(base.with_overrides(changing)) != h
