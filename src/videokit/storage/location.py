"""Where a file lives: a local path or an object-store URL, and the fsspec filesystem that reaches it.

``s3://bucket/key``, ``gs://bucket/key``, ``az://container/key`` and ``dropbox://folder/name``
are parsed into a :class:`Location`. Credentials never come from videokit's settings: each
provider's own environment variables or standard credential chain are used (:data:`CREDENTIALS`
names them), and every error about them names the provider and those variables, never a value.
Any other failure of a provider becomes a one-line :class:`~videokit.errors.VideokitError`
(:func:`cloud_error`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from videokit.errors import ConfigError, DiskFullError, InputError, TransientError, UsageError, VideokitError, one_line
from videokit.net import hold_secret, redact_text

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from videokit.storage.options import StorageOptions

# URL scheme -> provider code
SCHEMES: dict[str, str] = {"s3": "s3", "gs": "gs", "gcs": "gs", "az": "az", "abfs": "az", "dropbox": "dropbox"}
PROVIDERS: dict[str, str] = {
    "s3": "Amazon S3",
    "gs": "Google Cloud Storage",
    "az": "Azure Blob Storage",
    "dropbox": "Dropbox",
    "file": "the local disk",
}
# Where each provider's credentials come from (never from config.ini).
CREDENTIALS: dict[str, str] = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or the AWS credential chain)",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS (or the Google application default credentials)",
    "az": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY "
    "or AZURE_STORAGE_SAS_TOKEN",
    "dropbox": "DROPBOX_ACCESS_TOKEN, or DROPBOX_REFRESH_TOKEN with DROPBOX_APP_KEY",
}
_SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
    "DROPBOX_ACCESS_TOKEN",
    "DROPBOX_REFRESH_TOKEN",
    "DROPBOX_APP_SECRET",
)
# Environment that changes which account a filesystem reaches: part of the filesystem cache key (hashed).
_ACCOUNT_ENV = (
    *_SECRET_ENV,
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "STORAGE_EMULATOR_HOST",
)


def is_cloud_url(text: str) -> bool:
    """True for ``s3://``, ``gs://``, ``az://``, ``dropbox://`` (and ``gcs://``, ``abfs://``) URLs."""
    head, sep, _ = text.partition("://")
    return bool(sep) and head.lower() in SCHEMES


@dataclass(frozen=True, slots=True)
class Location:
    """A place for one file or a prefix: ``scheme`` (s3 | gs | az | dropbox | file), the bucket
    (container; "" for file and dropbox) and the key inside it ("/"-separated; for ``file`` the
    absolute path)."""

    scheme: str
    bucket: str
    key: str

    @property
    def provider(self) -> str:
        return PROVIDERS[self.scheme]

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def url(self) -> str:
        if self.is_local:
            return self.key
        if self.scheme == "dropbox":
            return f"dropbox://{self.key.lstrip('/')}"
        return f"{self.scheme}://{self.bucket}/{self.key}" if self.key else f"{self.scheme}://{self.bucket}"

    @property
    def fs_path(self) -> str:
        """The path fsspec's filesystem for this provider takes."""
        if self.is_local or self.scheme == "dropbox":
            return self.key
        return f"{self.bucket}/{self.key}" if self.key else self.bucket

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    def join(self, relative: str) -> Location:
        """The location ``relative`` ("processed/<id>/thumb_0001.jpg") below this one; UsageError
        for a key that would leave it (``..``, an absolute path)."""
        parts = PurePosixPath(relative.replace("\\", "/")).parts
        if not parts or relative.startswith("/") or ".." in parts:
            raise UsageError(f"{relative!r}: a library key must be a relative path without '..'")
        if self.is_local:
            return Location("file", "", str(Path(self.key, *parts)))
        key = "/".join(p for p in (self.key.strip("/"), *parts) if p)
        if self.scheme == "dropbox":
            key = "/" + key
        return Location(self.scheme, self.bucket, key)

    def relative_to(self, other: Location) -> str:
        """This location's key below ``other`` (a prefix)."""
        base = other.key.rstrip("/")
        key = self.key
        return key[len(base) :].lstrip("/") if base else key.lstrip("/")

    def __str__(self) -> str:
        return self.url


def parse_location(text: str) -> Location:
    """A :class:`Location` from a URL or a local path; UsageError for a cloud URL without a
    bucket (``s3://``) or an unknown scheme that looks like a URL."""
    text = text.strip()
    if "://" not in text:
        return Location("file", "", str(Path(os.path.expanduser(text)).absolute()))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Location("file", "", str(Path(parts.path).absolute()))
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in ("s3", "gs", "az", "dropbox"))
        raise UsageError(
            f"{redact_text(text)}: unsupported storage URL scheme '{scheme}'; use {known} or a local folder"
        )
    provider = SCHEMES[scheme]
    if provider == "dropbox":  # dropbox://folder/name: the path inside the Dropbox account
        path = "/" + "/".join(p for p in (parts.netloc, parts.path.strip("/")) if p)
        return Location("dropbox", "", path.rstrip("/") or "/")
    if not parts.netloc:
        raise UsageError(f"{text}: no bucket; write {scheme}://BUCKET/PREFIX")
    return Location(provider, parts.netloc, parts.path.lstrip("/"))


# -- filesystems -------------------------------------------------------------------------------

_filesystems: dict[tuple[Any, ...], AbstractFileSystem] = {}
_fs_lock = threading.Lock()


def _account_fingerprint() -> str:
    """A hash of the environment that picks the account (no secret is kept in the cache key)."""
    h = hashlib.sha256()
    for name in _ACCOUNT_ENV:
        h.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return h.hexdigest()


def filesystem(location: Location, options: StorageOptions) -> AbstractFileSystem:
    """The fsspec filesystem for ``location``'s provider, made once per process and account.
    ConfigError naming the provider and its credential variables when the provider's package is
    missing or no credentials can be found."""
    if location.scheme == "dropbox":
        raise UsageError("dropbox:// locations go through videokit.storage.dropbox, not fsspec")
    cache_key = (location.scheme, location.bucket if location.scheme == "az" else "", options.s3_endpoint)
    cache_key += (_account_fingerprint(),)
    for name in _SECRET_ENV:  # scrubbed from every message and log line from now on
        hold_secret(os.environ.get(name))
    with _fs_lock:
        fs = _filesystems.get(cache_key)
        if fs is None:
            fs = _filesystems[cache_key] = _make_filesystem(location, options)
        return fs


def _make_filesystem(location: Location, options: StorageOptions) -> AbstractFileSystem:
    scheme = location.scheme
    try:
        if scheme == "file":
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem()
        if scheme == "s3":
            import s3fs

            kwargs: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
            if options.s3_endpoint:
                kwargs["endpoint_url"] = options.s3_endpoint
            return s3fs.S3FileSystem(**kwargs)
        if scheme == "az":
            import adlfs

            _require_env("az", ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"))
            return adlfs.AzureBlobFileSystem(skip_instance_cache=True, use_listings_cache=False)
        if scheme == "gs":
            # gcsfs.core's filesystem: the JSON API over HTTP. The package's default class adds an
            # experimental gRPC bucket-layout lookup (zonal / HNS buckets) that an emulator cannot
            # answer and that stalls each call for a minute of retries where it fails.
            from gcsfs.core import GCSFileSystem

            kwargs = {"skip_instance_cache": True, "use_listings_cache": False}
            if not os.environ.get("STORAGE_EMULATOR_HOST"):
                _google_credentials()
            elif not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
                kwargs["token"] = "anon"  # an emulator (STORAGE_EMULATOR_HOST) takes no credentials
            return GCSFileSystem(**kwargs)
    except ImportError as e:
        raise ConfigError(
            f"{PROVIDERS[scheme]} needs the package {e.name or 'of its fsspec driver'}; "
            "install it with: pip install 'videokit[cloud]'"
        ) from None
    raise UsageError(f"unsupported storage scheme {scheme!r}")


def _require_env(provider: str, any_of: tuple[str, ...]) -> None:
    if not any(os.environ.get(name) for name in any_of):
        raise ConfigError(f"{PROVIDERS[provider]}: no credentials found; set {CREDENTIALS[provider]}")


def _google_credentials() -> None:
    """ConfigError unless Google's application default credentials can be found."""
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:
        return
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path and not Path(path).is_file():
        raise ConfigError(
            f"{PROVIDERS['gs']}: GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist; "
            "point it at a service-account key file"
        )
    try:
        google.auth.default()
    except DefaultCredentialsError:
        raise ConfigError(f"{PROVIDERS['gs']}: no credentials found; set {CREDENTIALS['gs']}") from None


# -- errors ------------------------------------------------------------------------------------

_AUTH_WORDS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "Forbidden",
    "Unauthorized",
)
_NO_BUCKET_WORDS = ("NoSuchBucket", "bucket does not exist", "ContainerNotFound", "container does not exist")
_TRANSIENT_WORDS = (
    *("timed out", "timeout", "Connection", "connect", "reset", "503", "500", "502", "504", "SlowDown"),
    *("ClientPayloadError", "ContentLengthError", "IncompleteRead", "not completed"),  # a body cut mid-way
)


def cloud_error(location: Location, error: BaseException, doing: str = "read") -> VideokitError:
    """``error`` from a provider while ``doing`` something with ``location`` as one videokit error:
    ConfigError for missing or refused credentials (naming the provider and its variables),
    InputError for a missing bucket or object, TransientError for network trouble and 5xx,
    DiskFullError for a full local disk. Never quotes a secret."""
    if isinstance(error, VideokitError):
        return error
    url, provider = redact_text(location.url), location.provider
    text = _describe(error)
    name = type(error).__name__
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DiskFullError(url)
    if name in {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "DefaultCredentialsError"}:
        return ConfigError(f"{url}: no {provider} credentials found; set {CREDENTIALS[location.scheme]}")
    if isinstance(error, PermissionError) or any(w in text for w in _AUTH_WORDS):
        return ConfigError(
            f"{url}: {provider} refused the credentials ({one_line(text, 120)}); check {CREDENTIALS[location.scheme]}"
        )
    if any(w.lower() in text.lower() for w in _NO_BUCKET_WORDS):
        what = "container" if location.scheme == "az" else "bucket"
        return InputError(
            f"{url}: the {provider} {what} {location.bucket!r} does not exist; check the URL or create it"
        )
    if isinstance(error, FileNotFoundError):
        return InputError(f"{url}: no such object in {provider} (deleted or never written); check the URL")
    if isinstance(error, (TimeoutError, ConnectionError)) or any(w in text for w in _TRANSIENT_WORDS):
        return TransientError(f"{url}: {provider} could not {doing} it ({one_line(text, 160)}); try again later")
    return InputError(f"{url}: {provider} could not {doing} it: {one_line(text, 200)}")


def _describe(error: BaseException) -> str:
    text = redact_text(str(error) or type(error).__name__)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return f"{type(error).__name__}: {text}" if type(error).__name__ not in text else text
