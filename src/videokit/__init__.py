"""videokit: video URLs and files into a searchable, tagged, AI-described library.

The public surface, re-exported here from :mod:`videokit.api` (every operation of the command
line) and the modules of its types::

    import videokit

    cfg = videokit.load_config()
    result = videokit.run(["clips/", "https://example.com/v.mp4"], cfg)
    for record in videokit.search(cfg, videokit.Query(text="harbour")): ...

Names are imported on first use, so ``import videokit`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# where the names of __all__ are defined, searched in this order on first use
_HOMES = (
    "videokit.api",
    "videokit.config",
    "videokit.errors",
    "videokit.record",
    "videokit.store",
    "videokit.store.migrate",
    "videokit.storage",
    "videokit.tagging.retag",
)

__all__ = [
    # the operations (videokit.api)
    "run",
    "submit",
    "retry",
    "status",
    "run_worker",
    "search",
    "search_mode",
    "moments",
    "similar",
    "count",
    "get",
    "ask",
    "edit_tags",
    "retag",
    "explain",
    "list_rules",
    "check_rules",
    "check_rules_file",
    "export_library",
    "migrate",
    "check",
    "rebuild",
    "probe_file",
    "find_scenes",
    "init",
    "build_dataset",
    "dupes",
    "convert",
    "validate",
    "serve",
    "create_key",
    "list_keys",
    "revoke_key",
    "signin_link",
    "reindex",
    "library_files",
    # what they take and return
    "Config",
    "load_config",
    "Query",
    "Record",
    "PRIORITIES",
    "Answer",
    "BrokerStatus",
    "CheckReport",
    "ConvertReport",
    "CreatedKey",
    "DatasetOptions",
    "DatasetReport",
    "DupesReport",
    "EncodeOptions",
    "ExportReport",
    "Explanation",
    "Failure",
    "KeyInfo",
    "LibraryStatus",
    "MigrateReport",
    "Migration",
    "Moment",
    "RebuildReport",
    "ReindexReport",
    "RetagReport",
    "RetryReport",
    "RulesFileCheck",
    "RulesSummary",
    "RunResult",
    "SimilarVideo",
    "StatusReport",
    "Storage",
    "SubmitReport",
    "TagEdit",
    "ValidationReport",
    "WorkerStatus",
    # what they raise
    "VideokitError",
    "ConfigError",
    "UsageError",
    "InputError",
    "TransientError",
    "StoreError",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        for home in _HOMES:
            module = import_module(home)
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'videokit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from videokit.api import (
        PRIORITIES,
        Answer,
        BrokerStatus,
        CheckReport,
        ConvertReport,
        CreatedKey,
        DatasetOptions,
        DatasetReport,
        DupesReport,
        EncodeOptions,
        Explanation,
        ExportReport,
        Failure,
        KeyInfo,
        LibraryStatus,
        Migration,
        Moment,
        RebuildReport,
        ReindexReport,
        RetryReport,
        RulesFileCheck,
        RulesSummary,
        RunResult,
        SimilarVideo,
        StatusReport,
        SubmitReport,
        TagEdit,
        ValidationReport,
        WorkerStatus,
        ask,
        build_dataset,
        check,
        check_rules,
        check_rules_file,
        convert,
        count,
        create_key,
        dupes,
        edit_tags,
        explain,
        export_library,
        find_scenes,
        get,
        init,
        library_files,
        list_keys,
        list_rules,
        migrate,
        moments,
        probe_file,
        rebuild,
        reindex,
        retag,
        retry,
        revoke_key,
        run,
        run_worker,
        search,
        search_mode,
        serve,
        signin_link,
        similar,
        status,
        submit,
        validate,
    )
    from videokit.config import Config, load_config
    from videokit.errors import ConfigError, InputError, StoreError, TransientError, UsageError, VideokitError
    from videokit.record import Record
    from videokit.storage import Storage
    from videokit.store import Query
    from videokit.store.migrate import MigrateReport
    from videokit.tagging.retag import RetagReport
