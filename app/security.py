"""Security headers on every response, the server-error page included.

The policy lets pages load only what this service serves itself: no inline script and no
`eval` (data for scripts travels in `<script type="application/json">` blocks read by static
files), inline styles only (plotly sets them on the SVG it draws), and images from this
service or from `data:` and `blob:` URLs (plotly's image export draws its SVG through a `blob:`
image; only script already allowed here can make one). A response that sets a header itself
keeps its own value.

Respondent pages, and the API that takes responses, are never kept by the browser
(`Cache-Control: no-store`): on a shared office computer, Back after sending must not show the
next person someone's answers.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Nothing here reads the Referer, and a link out of a staff page should not carry its
    # query (team, wave) to another site or even to a proxy's log: send none at all.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
NOT_KEPT = {"Cache-Control": "no-store"}
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
"""One year, this host only: a council's other subdomains are not this service's to decide."""


def security_headers(*, production: bool) -> dict[str, str]:
    """HSTS only in production: a browser that once saw it would refuse plain-HTTP development
    servers on the same host name for a year."""
    if production:
        return {**HEADERS, "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY}
    return dict(HEADERS)


class SecurityHeaders:
    """Pure ASGI: adds the headers to each response's start message, leaving the body alone."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.headers = security_headers(production=production)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        added = {**self.headers, **NOT_KEPT} if _holds_answers(scope["path"]) else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _holds_answers(path: str) -> bool:
    return path.startswith("/s/") or (
        path.startswith("/api/v1/surveys/") and path.endswith("/responses")
    )
