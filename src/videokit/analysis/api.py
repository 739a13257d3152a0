"""The ``api`` analyzer: any OpenAI-compatible chat-completions endpoint serving a
vision-language model (vLLM, DashScope compatible mode, PAI-EAS, Ollama).

One request per video: the sampled frames as base64 data-URL images plus the instruction in
one user message. Retries with exponential backoff and jitter on timeouts, connection
errors, 408/429/5xx (``Retry-After`` honoured); at most ``[QwenVL] MaxConcurrentRequests``
requests in flight across threads. The analyze stage gathers that many videos and
:meth:`ApiAnalyzer.analyze_many` sends their requests at once, so the bound is kept full
across videos; a video whose request fails gets its own error. The key comes only from the environment variable named
by ``[QwenVL] ApiKeyEnv`` and is never logged or stored: it is held (:func:`videokit.net.hold_secret`)
as soon as it is read, so a server that quotes it back in an error has it scrubbed from the message.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from videokit.analysis.base import AnalysisRequest, Analyzer
from videokit.analysis.parse import parse_analysis
from videokit.errors import ConfigError, InputError, TransientError, one_line
from videokit.net import backoff_delay, hold_secret, parse_retry_after, redact_text
from videokit.record import Analysis

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_sleep = time.sleep  # tests replace it to record backoff delays
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """The api backend's settings, read and checked once (``[QwenVL]``, backoff from ``[Download]``)."""

    model: str
    url: str  # the chat-completions URL
    api_key_env: str
    timeout: float  # seconds per request; 0: none
    retries: int
    max_concurrent: int
    max_new_tokens: int
    backoff_base: float
    backoff_max: float

    @classmethod
    def from_config(cls, config: Config) -> ApiOptions:
        get = config.get
        key = "VpcEndpoint" if get("QwenVL", "UseVpc") else "PublicEndpoint"
        base = str(get("QwenVL", key)).strip()
        if not base:
            raise ConfigError(
                f"the api analyzer needs [QwenVL] {key} (an OpenAI-compatible base URL such as "
                "http://host:8000/v1); set it in config.ini or VIDEOKIT_QWENVL_" + key.upper()
            )
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"[QwenVL] {key} must start with http:// or https://, got {base!r}")
        base = base.rstrip("/")
        return cls(
            model=str(get("QwenVL", "ApiModel")),
            url=base if base.endswith("/chat/completions") else base + "/chat/completions",
            api_key_env=str(get("QwenVL", "ApiKeyEnv")),
            timeout=float(get("QwenVL", "Timeout")),
            retries=max(0, int(get("QwenVL", "Retries"))),
            max_concurrent=int(get("QwenVL", "MaxConcurrentRequests")),
            max_new_tokens=int(get("QwenVL", "MaxNewTokens")),
            backoff_base=float(get("Download", "BackoffBase")),
            backoff_max=float(get("Download", "BackoffMax")),
        )


class ApiAnalyzer(Analyzer):
    name = "api"
    version = "1"

    def __init__(self, config: Config, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(config)
        self.options = ApiOptions.from_config(config)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.options.max_concurrent)
        self.calls = 0  # HTTP requests sent (tests and benchmarks read it)
        self._calls_lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.options.model

    @property
    def endpoint(self) -> str:
        return self.options.url

    @property
    def batch_size(self) -> int:
        """``[QwenVL] MaxConcurrentRequests``: the videos whose requests are in flight together."""
        return self.options.max_concurrent

    def cache_params(self) -> dict[str, Any]:
        return {"max_tokens": self.options.max_new_tokens}

    def setup(self) -> None:
        with self._client_lock:
            if self._client is not None:
                return
            url = self.endpoint
            headers = {"Content-Type": "application/json", "User-Agent": "videokit"}
            env_name = self.options.api_key_env
            key = os.environ.get(env_name, "").strip() if env_name else ""
            if key:
                hold_secret(key)
                headers["Authorization"] = f"Bearer {key}"
            else:
                log.info("no API key in $%s; calling %s without Authorization", env_name, redact_text(url))
            timeout = self.options.timeout or None
            # connections enough for every request in flight (httpx.Client is thread-safe)
            limits = httpx.Limits(max_connections=max(10, self.options.max_concurrent))
            self._client = httpx.Client(headers=headers, timeout=timeout, transport=self._transport, limits=limits)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def body(self, request: AnalysisRequest) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for f in request.frames:
            mime = MIME.get(f.path.suffix.lower(), "image/jpeg")
            try:
                data = base64.b64encode(f.path.read_bytes()).decode("ascii")
            except OSError as e:
                raise InputError(f"{f.path}: cannot read analysis frame ({e.strerror})") from None
            content.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}})
        content.append({"type": "text", "text": request.prompt})
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": self.options.max_new_tokens,
            "temperature": 0,
        }

    def analyze_many(self, requests: Sequence[AnalysisRequest]) -> list[Analysis | Exception]:
        """The requests sent together, at most ``MaxConcurrentRequests`` in flight; one entry per
        request, in order: its analysis or the exception that request ended with."""
        if len(requests) <= 1:
            return super().analyze_many(requests)
        self.setup()

        def one(request: AnalysisRequest) -> Analysis | Exception:
            try:
                return self.analyze(request)
            except Exception as e:  # that video's own failure
                return e

        with ThreadPoolExecutor(min(len(requests), self.options.max_concurrent), "videokit-api") as pool:
            return list(pool.map(one, requests))

    def analyze(self, request: AnalysisRequest) -> Analysis:
        if self._client is None:
            self.setup()
        reply = self._post(self.body(request), str(request.video))
        text = _content(reply)
        analysis = parse_analysis(text, request, backend=self.name, model=self.model, origin=self.origin)
        usage = reply.get("usage") or {}
        analysis.usage = {
            k: int(v) for k, v in usage.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        finish = ((reply.get("choices") or [{}])[0] or {}).get("finish_reason")
        if finish == "length":
            analysis.warnings.append("the reply was cut at [QwenVL] MaxNewTokens; raise it for complete answers")
        return analysis

    def _post(self, body: dict[str, Any], label: str) -> dict[str, Any]:
        assert self._client is not None
        url, label = self.endpoint, redact_text(label)  # ``url`` for requests; messages show it redacted
        shown = redact_text(url)
        retries, base, cap = self.options.retries, self.options.backoff_base, self.options.backoff_max
        problem = ""
        for attempt in range(retries + 1):
            wait: float | None = None
            try:
                with self._slots:
                    with self._calls_lock:
                        self.calls += 1
                    resp = self._client.post(url, json=body)
            except httpx.TimeoutException:
                problem = f"no reply within {self.options.timeout}s"
            except httpx.TransportError as e:
                problem = f"cannot reach {shown}: {type(e).__name__}"
            else:
                if resp.status_code == 200:
                    try:
                        data = resp.json()
                    except ValueError:
                        raise TransientError(f"{label}: {shown} answered 200 with a body that is not JSON") from None
                    if not isinstance(data, dict):
                        raise TransientError(f"{label}: {shown} answered 200 with an unexpected body")
                    return data
                problem = f"HTTP {resp.status_code} {_error_text(resp)}".strip()
                if resp.status_code in (401, 403):
                    env_name = self.options.api_key_env
                    raise InputError(f"{label}: {shown} refused the API key ({problem}); check ${env_name}")
                if resp.status_code not in RETRY_STATUS:
                    raise InputError(f"{label}: {shown} rejected the request ({problem})")
                wait = parse_retry_after(resp.headers.get("Retry-After"))
            if attempt == retries:
                break
            delay = backoff_delay(attempt + 1, base, cap) if wait is None else min(wait, max(cap, 60.0))
            log.info("%s: api attempt %d failed (%s); retrying in %.2fs", label, attempt + 1, problem, delay)
            _sleep(delay)
        raise TransientError(f"{label}: api analyzer gave up after {retries + 1} attempts: {problem}")


def _content(reply: dict[str, Any]) -> str:
    choices = reply.get("choices") or []
    msg = (choices[0] or {}).get("message") if choices and isinstance(choices[0], dict) else None
    content = (msg or {}).get("content") if isinstance(msg, dict) else None
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _error_text(resp: httpx.Response) -> str:
    """The server's own error message, one line, with every URL and held secret (the key it
    may quote back) redacted."""
    try:
        data = resp.json()
        err = data.get("error") if isinstance(data, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
        if msg:
            return f"({one_line(redact_text(str(msg)), 200)})"
    except ValueError:
        pass
    return ""
