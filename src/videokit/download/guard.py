"""The URL guard against server-side request forgery: a URL whose host is, or resolves to, a
loopback, private, link-local, multicast, unspecified, reserved or cloud-metadata address is
refused (``[Download] RefusePrivateAddresses``; the server turns it on for URLs submitted
through its API unless ``[Server] AllowPrivateURLs``).

Host names are resolved (:data:`resolve`, replaceable in tests) and every address they give
must be global. IPv4 in decimal, octal, hex or shortened form (``2130706433``, ``0177.0.0.1``,
``0x7f.1``) is read the way the C library would connect to it, and an IPv4-mapped IPv6 address
(``::ffff:127.0.0.1``) counts as its IPv4 address. The downloader checks each request,
redirects included (an httpx request hook), and the page path checks each request yt-dlp
makes and where it ends up after redirects.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from videokit.errors import InputError
from videokit.net import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def _getaddrinfo(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as e:
        raise InputError(f"{host}: the host name does not resolve ({e})") from None
    return [str(info[4][0]) for info in infos]


# host name -> its addresses; tests replace it to simulate DNS
resolve: Callable[[str], list[str]] = _getaddrinfo


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` names literally (any IPv4 form the C library accepts, IPv6 with or
    without brackets and zone), or None for a host name."""
    h = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if h and all(c in "0123456789abcdefxABCDEFX." for c in h) and any(c.isdigit() for c in h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))  # 2130706433, 0177.0.0.1, 0x7f.1, 127.1
        except OSError:
            return None
    return None


def why_refused(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is, or None when it is a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "cloud-metadata"
    for kind in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:
        return "non-public"
    return None


def check_url(url: str) -> None:
    """InputError naming the URL and the address when ``url``'s host is or resolves to a
    non-public address; nothing when every address it resolves to is public."""
    shown = redact_url(url)
    try:
        host = urlsplit(url).hostname
    except ValueError as e:
        raise InputError(f"{shown}: invalid URL ({e})") from None
    if not host:
        raise InputError(f"{shown}: the URL has no host name")
    literal = literal_address(host)
    addresses = [literal] if literal is not None else [_parse(a) for a in resolve(host)]
    if not addresses:
        raise InputError(f"{shown}: {host} resolves to no address")
    for address in addresses:
        kind = why_refused(address)
        if kind is not None:
            named = host if literal is not None else f"{host} resolves to {address}, which"
            article = "an" if kind[0] in "aeiou" else "a"
            raise InputError(
                f"{shown}: refused: {named} is {article} {kind} address; "
                "URLs submitted to the server must point to public hosts ([Server] AllowPrivateURLs)"
            )


def _parse(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])
