"""Credentials for tests that check secrets never leak: made up on each run, never in the source."""

from __future__ import annotations

import secrets


def throwaway_password() -> str:
    return "pw-" + secrets.token_hex(8)


def with_credentials(url: str, user: str = "alice", password: str | None = None) -> tuple[str, str]:
    """``url`` with ``user:password@`` after the scheme; returns (url, password)."""
    password = password or throwaway_password()
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}", password
