"""The client's address, resolved once per request: forwarded headers count only from trusted proxies.

``TRUSTED_PROXIES`` lists the networks (CIDRs or single addresses, IPv4 and IPv6,
separated by commas or spaces) of the reverse proxies in front of OneRelay. It
is empty by default: then ``X-Forwarded-For`` / ``X-Real-Ip`` are ignored and
the client is the TCP peer, so nobody can choose the address a token's subnet,
a rate limit or the login throttle sees.

When the peer is trusted:

- ``X-Forwarded-For`` (every header line, joined) is walked from the right:
  trusted addresses are proxies and are skipped, the first untrusted one is the
  client. When every entry is trusted, the left-most is the client. An entry
  that is not an address stops the walk: the client is then the last address
  reached (the peer itself when the right-most entry is garbage), since nothing
  to the left of garbage was written by a proxy we trust.
- ``X-Real-Ip`` is used only when there is no ``X-Forwarded-For``; an invalid
  value means the peer.
- ``X-Forwarded-Proto`` (else ``X-Scheme``), ``http`` or ``https``, becomes
  ``request.protocol`` (secure cookies, links).

Tornado's own ``xheaders`` must be off (it trusts everyone). :func:`for_request`
caches the answer on the request and writes it to ``request.remote_ip`` so the
access log names the same address.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Union

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

MAX_HOPS = 32  # entries of X-Forwarded-For looked at, from the right
_CACHE_ATTR = "_onerelay_client_ip"


def parse_ip(value: str) -> IPAddress | None:
    """An address from a header entry: ``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``,
    ``fe80::1%eth0``; IPv4-mapped IPv6 as IPv4. None when it is not one."""
    v = value.strip().strip('"')
    if not v or len(v) > 100:
        return None
    if v.startswith("["):
        end = v.find("]")
        if end < 0:
            return None
        v = v[1:end]
    elif v.count(":") == 1:  # IPv4 with a port
        v = v.split(":", 1)[0]
    v = v.split("%", 1)[0]  # an IPv6 zone
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    """The parsed ``TRUSTED_PROXIES``: ``addr in trusted`` for an address or its string."""

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(networks)

    @classmethod
    def parse(cls, value: str | None) -> "TrustedProxies":
        """Comma/space-separated CIDRs or addresses; ValueError naming the first bad entry."""
        nets: list[IPNetwork] = []
        for entry in (value or "").replace(",", " ").split():
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR "
                                 "(e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)") from None
            if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None \
                    and net.prefixlen >= 96:  # ::ffff:10.0.0.0/104 -> 10.0.0.0/8
                net = ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
            nets.append(net)
        return cls(nets)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, ip: Any) -> bool:
        if not self.networks:
            return False
        if isinstance(ip, str):
            ip = parse_ip(ip)
        if ip is None:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __repr__(self) -> str:
        return "TrustedProxies(%s)" % ", ".join(str(n) for n in self.networks)


def trusted_of(settings: Any) -> TrustedProxies:
    """``settings.trusted_proxies`` as :class:`TrustedProxies` (a string set by a test is parsed once)."""
    t = getattr(settings, "trusted_proxies", None)
    if isinstance(t, TrustedProxies):
        return t
    parsed = TrustedProxies.parse(t if isinstance(t, str) else " ".join(t or ()))
    try:
        settings.trusted_proxies = parsed
    except AttributeError:  # pragma: no cover - read-only settings objects
        pass
    return parsed


def resolve(peer: str, trusted: TrustedProxies, forwarded_for: str | None = None,
            real_ip: str | None = None) -> str:
    """The client address of one request (a pure function; see the module doc)."""
    peer_ip = parse_ip(peer or "")
    if peer_ip is None:
        return peer or ""
    if not trusted or peer_ip not in trusted:
        return str(peer_ip)
    if forwarded_for is not None and forwarded_for.strip():
        current = peer_ip
        for hop, entry in enumerate(reversed(forwarded_for.split(","))):
            if hop >= MAX_HOPS:
                break
            ip = parse_ip(entry)
            if ip is None:
                break
            current = ip
            if ip not in trusted:
                break
        return str(current)
    if real_ip is not None and real_ip.strip():
        ip = parse_ip(real_ip)
        if ip is not None:
            return str(ip)
    return str(peer_ip)


def forwarded_proto(peer: str, trusted: TrustedProxies, proto: str | None) -> str | None:
    """``http``/``https`` from a trusted peer's ``X-Forwarded-Proto``, else None."""
    if not proto or not trusted or parse_ip(peer or "") not in trusted:
        return None
    value = proto.split(",")[-1].strip().lower()
    return value if value in ("http", "https") else None


_PEERS: dict[str, str] = {}  # peer address -> its normalised form (resolve() with nothing trusted)
_PEERS_LIMIT = 4096


def peer_address(peer: str) -> str:
    """``resolve(peer, TrustedProxies())``, remembered: with no trusted proxy the client is the
    TCP peer, whose few distinct addresses are parsed once each, not once per request."""
    ip = _PEERS.get(peer)
    if ip is None:
        ip = resolve(peer, TrustedProxies())
        if len(_PEERS) >= _PEERS_LIMIT:
            _PEERS.clear()
        _PEERS[peer] = ip
    return ip


def for_request(request: Any, settings: Any) -> str:
    """The resolved address of a Tornado request, computed once (also sets ``remote_ip`` and,
    from a trusted proxy, ``protocol``)."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is not None:
        return str(cached)
    peer = request.remote_ip or ""
    trusted = trusted_of(settings)
    if not trusted:  # forwarded headers count for nothing: the peer is the client
        ip = peer_address(peer)
        request.remote_ip = ip
        setattr(request, _CACHE_ATTR, ip)
        return ip
    headers = request.headers
    xff = headers.get_list("X-Forwarded-For")
    ip = resolve(peer, trusted, ",".join(xff) if xff else None, headers.get("X-Real-Ip"))
    proto = forwarded_proto(peer, trusted, headers.get("X-Forwarded-Proto") or headers.get("X-Scheme"))
    if proto is not None:
        request.protocol = proto
    request.remote_ip = ip
    setattr(request, _CACHE_ATTR, ip)
    return ip
