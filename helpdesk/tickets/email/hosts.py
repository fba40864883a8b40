"""Which hosts the helpdesk may open an IMAP connection to, on an admin's word: never link-local
or cloud metadata addresses (169.254.169.254, fd00:ec2::254), never "this host" (0.0.0.0, ::), and
loopback only when HELPDESK_IMAP_ALLOW_LOOPBACK says so (a Dovecot on the same machine). Checked
on the resolved addresses, at save and again at every connect, so a name that later resolves to
a metadata address is refused too."""

from __future__ import annotations

import ipaddress
import socket

from helpdesk.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
BLOCKED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "100.100.100.200/32",  # Alibaba metadata
    "::/128", "fe80::/10", "fd00::/8", "ff00::/8",
)]
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


class HostRefused(OSError):
    """The IMAP host resolves to an address the helpdesk must not connect to."""


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in BLOCKED if net.version == address.version):
        return "a link-local, metadata or unspecified address"
    if not allow_loopback and any(address in net for net in LOOPBACK if net.version == address.version):
        return "a loopback address (set HELPDESK_IMAP_ALLOW_LOOPBACK=1 for a server on this machine)"
    return None


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_literal(host: str, *, allow_loopback: bool) -> None:
    """At save time (no DNS from a web request): an address typed in directly."""
    address = literal(host)
    if address is not None and (why := refusal(address, allow_loopback=allow_loopback)):
        raise Invalid("imap_host", f"{host} is {why}")


def vetted_addresses(host: str, port: int, *, allow_loopback: bool) -> list[tuple[int, str]]:
    """(family, address) to connect to: every address the name resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostRefused(f"IMAP host {host!r} does not resolve: {exc}") from exc
    found = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if why := refusal(address, allow_loopback=allow_loopback):
            raise HostRefused(f"IMAP host {host!r} resolves to {address}, {why}")
        found.append((family, sockaddr[0]))
    return found
