"""Plug-ins that really plug in: the README's example package, built and installed by the test
into a temporary folder, adds a stage, an analyzer, a store and an exporter, each used end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from media import make_video
from store_contract import StoreContract
from test_resume import VIDEOKIT, cli_env
from videokit.config import load_config
from videokit.errors import ConfigError
from videokit.pipeline import build_pipeline
from videokit.registry import reload_all
from videokit.store.base import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "videokit-hello"
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plug-in, built and installed (entry points and all) into a folder of its own."""
    site = tmp_path_factory.mktemp("plugin-site")
    build = tmp_path_factory.mktemp("plugin-build")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site)]
        + ["--no-index", str(EXAMPLE)],
        check=True,
        capture_output=True,
        cwd=build,
        env={**cli_env(), "PIP_NO_CACHE_DIR": "1"},
    )
    assert (site / "videokit_hello.py").is_file()
    return site


@pytest.fixture
def plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plug-in importable in this process (as after ``pip install``)."""
    monkeypatch.syspath_prepend(str(plugin_site))
    reload_all()
    yield plugin_site
    monkeypatch.undo()
    sys.modules.pop("videokit_hello", None)
    reload_all()


def plugin_env(site: Path, **extra: str) -> dict[str, str]:
    return cli_env(PYTHONPATH=str(site), **extra)


def test_readme_shows_the_example_package_the_tests_install() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in ("pyproject.toml", "videokit_hello.py"):
        text = (EXAMPLE / name).read_text(encoding="utf-8").strip()
        assert text in readme, f"README's plug-in section does not show examples/videokit-hello/{name} verbatim"


def test_plugin_stage_is_placed_where_it_declares(plugin: Path) -> None:
    names = [s.name for s in build_pipeline(load_config(env={})).stages]
    assert names == [
        *("fetch", "identify", "probe", "aspect", "scenes", "transcribe"),
        *("analyze", "tag", "classify", "embed", "store"),
    ]
    # optional like a built-in optional stage
    assert "aspect" not in [s.name for s in build_pipeline(load_config(env={}), skip=["aspect"]).stages]


def test_without_the_plugin_nothing_is_added() -> None:
    names = [s.name for s in build_pipeline(load_config(env={})).stages]
    assert names == [
        *("fetch", "identify", "probe", "scenes", "transcribe", "analyze", "tag", "classify", "embed", "store")
    ]
    with pytest.raises(ConfigError, match="unknown key 'Greeting'|unknown section"):
        _config_file_with("[Hello]\nGreeting = hi\n")


def _config_file_with(text: str) -> object:
    path = Path("config.ini")
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def test_plugin_analyzer_settings_are_validated(plugin: Path) -> None:
    cfg = _config_file_with("[Analysis]\nBackend = hello\n[Hello]\nGreeting = ahoy\nRepeat = 2\n")
    assert cfg.section("Hello")["Repeat"] == 2
    with pytest.raises(ConfigError, match=r"bad value for \[Hello\] Repeat"):
        _config_file_with("[Hello]\nRepeat = many\n")
    with pytest.raises(ConfigError, match=r"unknown key 'Colour' in \[Hello\]"):
        _config_file_with("[Hello]\nColour = red\n")


def test_plugin_store_is_accepted_by_name_and_unknown_ones_are_not(plugin: Path) -> None:
    assert _config_file_with("[Library]\nStore = jsonfolder\n").get("Library", "Store") == "jsonfolder"
    with pytest.raises(ConfigError, match="jsonfolder.*mongodb.*sqlite|expected one of"):
        _config_file_with("[Library]\nStore = nosuchstore\n")


class TestPluginStoreContract(StoreContract):
    @pytest.fixture
    def store(self, plugin: Path, tmp_path: Path) -> Iterator[Store]:
        from videokit.store import open_store

        cfg = load_config(
            env={}, overrides={("Library", "Location"): str(tmp_path / "lib"), ("Library", "Store"): "jsonfolder"}
        )
        with open_store(cfg) as s:
            assert type(s).__name__ == "JsonFolderStore"
            yield s


def test_every_plugin_kind_end_to_end_through_the_cli(plugin_site: Path, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "tall.mp4", duration=1.0, size="180x320", title="Tall clip")
    (tmp_path / "config.ini").write_text(
        "[Library]\nStore = jsonfolder\n[Analysis]\nBackend = hello\n[Hello]\nGreeting = ahoy\nRepeat = 2\n",
        encoding="utf-8",
    )
    env = plugin_env(plugin_site)
    lib = tmp_path / "lib"

    def videokit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VIDEOKIT, "--config", str(tmp_path / "config.ini"), "--library", str(lib), "-q", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    run = videokit("run", str(clip))
    assert run.returncode == 0, run.stderr
    stored = list((lib / "records").glob("*.json"))  # the plug-in store holds the record
    assert len(stored) == 1
    assert not (lib / "library.sqlite").exists()
    found = videokit("search", "--json")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == 1
    rec = json.loads(stored[0].read_text())
    assert rec["extra"]["aspect"]["shape"] == "portrait"  # the plug-in stage ran
    assert rec["timings"].keys() >= {"probe", "aspect", "scenes"}
    assert rec["analysis"]["backend"] == "hello"
    assert rec["analysis"]["description"].startswith("ahoy ahoy: ")  # its own settings section
    out = tmp_path / "titles.txt"
    exp = videokit("export", "--format", "titles", "--out", str(out))
    assert exp.returncode == 0, exp.stderr
    assert out.read_text() == f"{rec['id']}\tTall clip\n"
    bad = videokit("export", "--format", "nope", "--out", str(out))
    assert bad.returncode == 2 and "titles" in bad.stderr
