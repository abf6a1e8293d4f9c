"""Where Relance may send webhooks (F-31): https only, and never to a loopback, private
or link-local address (cloud metadata services, the internal network), so registering
an agency cannot turn the gateway into a way into our own network.

Checked twice: at registration on the URL itself (an address written in it, or
`localhost`), and at send time on every address the host name resolves to; the request
then goes to the address checked (the host name is kept for the Host header and TLS),
so a name that resolves elsewhere on the second lookup (DNS rebinding) changes nothing.
`WEBHOOK_ALLOW_INSECURE_URLS` allows http and loopback, for local development and the
agency simulator; private and link-local addresses stay refused, except that the host
names listed in `WEBHOOK_INTERNAL_HOSTS` may resolve to private addresses (the agency
simulator on a compose network). Link-local addresses are never allowed."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class ForbiddenWebhookUrl(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_problem(address: Address, *, allow_insecure: bool, allow_private: bool = False) -> str | None:
    """Why webhooks may not go to this address, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_insecure else "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return None if allow_private else "a private address"
    if address.is_multicast or not address.is_global:
        return "not a public address"
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problem(url: str, *, allow_insecure: bool) -> str | None:
    """Why a webhook URL cannot be registered, or None (no DNS lookup: the addresses a
    name resolves to are checked when sending)."""
    parts = urlsplit(url)
    allowed = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in allowed:
        return "must be an https URL"
    host = parts.hostname
    if not host:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None if allow_insecure else "must not point to a loopback address (localhost)"
    address = _literal(host)
    if address is not None and (problem := address_problem(address, allow_insecure=allow_insecure)):
        return f"must not point to {problem} ({address})"
    return None


def internal_host_names(setting: str) -> frozenset[str]:
    """`WEBHOOK_INTERNAL_HOSTS`: comma-separated host names."""
    return frozenset(h.strip().rstrip(".").lower() for h in setting.split(",") if h.strip())


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class PinnedTarget:
    """Where to send: the checked address in the URL, the name in Host and for TLS."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


async def pinned_target(
    url: str, *, allow_insecure: bool, internal_hosts: frozenset[str] = frozenset(),
    resolve: Resolver = system_resolver,
) -> PinnedTarget:
    """Check the URL and every address its host resolves to; raise ForbiddenWebhookUrl
    if any is forbidden (OSError if the name does not resolve: worth a retry)."""
    if problem := url_problem(url, allow_insecure=allow_insecure):
        raise ForbiddenWebhookUrl(f"the webhook URL {problem}")
    parsed = httpx.URL(url)
    host = parsed.host
    if _literal(host) is not None:
        return PinnedTarget(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolve(host, port)]
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    allow_private = host.rstrip(".").lower() in internal_hosts
    for address in addresses:
        if problem := address_problem(address, allow_insecure=allow_insecure, allow_private=allow_private):
            raise ForbiddenWebhookUrl(f"{host} resolves to {address}, {problem}")
    netloc = host if parsed.port is None else f"{host}:{parsed.port}"
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return PinnedTarget(str(parsed.copy_with(host=str(addresses[0]))), {"Host": netloc}, extensions)
