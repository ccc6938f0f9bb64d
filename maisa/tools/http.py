"""The `http` tool: HTTP requests to the hosts listed in `limits.network` only (DESIGN §6)."""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import httpx

from maisa.errors import ToolError
from maisa.tools.base import ToolContext

TIMEOUT_S = 15.0  # per network operation (connect, each read)
TOTAL_TIMEOUT_S = 60.0  # the whole call, redirects and a slowly dripping body included
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5


def host_allowed(host: str, port: int | None, allowed: list[str]) -> bool:
    """Whether `host[:port]` matches an allow-list entry.

    Entries are `name` (any port), `name:port`, or `*.domain` (any subdomain of
    `domain`, not `domain` itself). Matching is exact and case-insensitive.
    """
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.strip().lower().rstrip(".")
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and port != int(entry_port):
            continue
        if name.startswith("*."):
            if host.endswith(name[1:]) and host != name[2:]:
                return True
        elif host == name.strip("[]"):
            return True
    return False


def _listed_by_name(host: str, allowed: list[str]) -> bool:
    """Whether an entry names `host` itself (not only through a `*.domain` wildcard)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.strip().lower().rstrip(".")
        name = entry.rpartition(":")[0] if _has_port(entry) else entry
        if not name.startswith("*.") and name.strip("[]") == host:
            return True
    return False


def destination_problem(host: str, port: int, allowed: list[str]) -> str | None:
    """Why an allowed host name must not be connected to, from the addresses it resolves to.

    A name in a `*.domain` wildcard is chosen by whoever controls that domain's DNS (e.g.
    `ec2-127-0-0-1.compute-1.amazonaws.com` resolves to loopback), so it must resolve to public
    addresses; any name resolving to loopback, link-local (cloud metadata at 169.254.169.254)
    or unspecified addresses is refused unless it is `localhost` or an IP literal itself.
    Private addresses stay reachable through names listed exactly (an intranet API).
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None  # an IP literal, listed as such
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None  # the request itself will fail and say why
    exact = _listed_by_name(host, allowed)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        local = address.is_loopback or address.is_link_local or address.is_unspecified
        if local and host.lower().rstrip(".") != "localhost":
            return (
                f"{host!r} resolves to the local address {address}; refused "
                "(list the IP address itself in limits.network to allow it)"
            )
        if not exact and not address.is_global:
            return (
                f"{host!r} resolves to the non-public address {address} and is allowed only "
                "through a wildcard; list it by name to allow it"
            )
    return None


def _has_port(entry: str) -> bool:
    # "host:8080" and "[::1]:8080" carry a port; a bare IPv6 literal ("::1") does not.
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (entry.count(":") == 1 or head.endswith("]"))


class HttpTool:
    """HTTP(S) requests, only to the hosts listed in the worker's `limits.network`.
    Each returns {"status": int, "headers": {lower-case name: value}, "text": str}.
    Redirects are followed only within the allowed hosts; responses over 10 MiB are refused.
    """

    def __init__(self, ctx: ToolContext) -> None:
        self._allowed = list(ctx.allowed_hosts)
        # trust_env=False: no proxy variables, no ~/.netrc credentials from the host.
        self._client = httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False)

    def get(self, url: str, params: dict | None = None, headers: dict | None = None) -> dict:
        """GET `url` (query `params` are added to it)."""
        return self._request("GET", url, params=params, headers=headers)

    def post(
        self,
        url: str,
        json: Any = None,
        data: dict | str | None = None,
        headers: dict | None = None,
    ) -> dict:
        """POST to `url` with a JSON body (`json`), or a form dict / raw string body (`data`)."""
        if json is not None and data is not None:
            raise ToolError("http.post takes json or data, not both")
        content = data if isinstance(data, str | bytes) else None
        form = data if isinstance(data, dict) else None
        return self._request("POST", url, json=json, data=form, content=content, headers=headers)

    def _close(self) -> None:
        self._client.close()

    def _check(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise ToolError(f"only http and https URLs are allowed, not {url.scheme!r}: {url}")
        if not self._allowed:
            raise ToolError(
                f"network access is off for this worker; to reach {url.host}, list it in "
                "limits.network in the worker spec"
            )
        port = url.port or (443 if url.scheme == "https" else 80)
        if not host_allowed(url.host, port, self._allowed):
            raise ToolError(
                f"host {url.host!r} is not allowed; allowed hosts: {', '.join(self._allowed)} "
                "(list it in limits.network in the worker spec)"
            )
        problem = destination_problem(url.host, port, self._allowed)
        if problem:
            raise ToolError(problem)

    def _request(self, method: str, url: str, **options: Any) -> dict:
        if not isinstance(url, str):
            raise ToolError(f"a URL must be a string, not {type(url).__name__}")
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise ToolError(f"invalid URL {url!r}: {exc}") from None
        deadline = time.monotonic() + TOTAL_TIMEOUT_S
        for _ in range(MAX_REDIRECTS + 1):
            self._check(current)
            try:
                request = self._client.build_request(method, current, **options)
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException:
                raise ToolError(f"{method} {current} timed out after {TIMEOUT_S:g}s") from None
            except (httpx.HTTPError, httpx.InvalidURL, TypeError, ValueError) as exc:
                raise ToolError(f"{method} {current} failed: {exc}") from None
            try:
                if response.is_redirect and response.next_request is not None:
                    target = response.next_request.url
                    if (target.host, target.port) != (current.host, current.port):
                        options["headers"] = _without_credentials(options.get("headers"))
                    current = target
                    if response.status_code in (301, 302, 303) and method == "POST":
                        method, options = "GET", {"headers": options.get("headers")}
                    options.pop("params", None)  # already part of the redirect target
                    continue
                return {
                    "status": response.status_code,
                    "headers": {k.lower(): v for k, v in response.headers.items()},
                    "text": _read_text(response, method, current, deadline),
                }
            finally:
                response.close()
        raise ToolError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")


def _without_credentials(headers: dict | None) -> dict | None:
    # Like browsers and httpx itself: credentials never follow a redirect to another host.
    if not headers:
        return headers
    return {k: v for k, v in headers.items() if str(k).lower() not in ("authorization", "cookie")}


def _read_text(response: httpx.Response, method: str, url: httpx.URL, deadline: float) -> str:
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise ToolError(f"{method} {url} took longer than {TOTAL_TIMEOUT_S:g}s; stopped")
            if len(body) > MAX_RESPONSE_BYTES:
                raise ToolError(
                    f"{method} {url}: response larger than {MAX_RESPONSE_BYTES} bytes; refused"
                )
    except httpx.HTTPError as exc:
        raise ToolError(f"{method} {url} failed while reading: {exc}") from None
    encoding = response.charset_encoding or "utf-8"
    try:
        return bytes(body).decode(encoding, errors="replace")
    except LookupError:
        return bytes(body).decode("utf-8", errors="replace")
