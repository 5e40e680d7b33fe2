"""What every request passes through: a body size cap, content-type and endpoint checks, security headers,
and the admin token gate (constant-time comparison, guesses rate-limited, never logged)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

ADMIN_HEADER = "x-admin-token"
#: ``POLICYQA_MAX_UPLOAD_MB``: the largest document the admin view accepts, in MB (default 20).
MAX_UPLOAD_ENV = "POLICYQA_MAX_UPLOAD_MB"
DEFAULT_UPLOAD_MB = 20
#: The multipart envelope around the file (boundaries, part headers, a few small fields).
MULTIPART_SLACK = 64 * 1024
#: The only routes that take a multipart body, and the larger cap with it.
UPLOAD_PATHS = frozenset({"/api/admin/documents", "/api/admin/documents/preview"})

# Gradio's page needs inline scripts and styles (its config is an inline <script>) and eval (gr.HTML compiles
# its template with `new Function`). What CSP still buys: nothing is fetched from or sent to another origin,
# no plugins, no <base> or form hijack, and no framing.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs page loads Swagger UI from its CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def error_body(zh: str, en: str, **extra: Any) -> dict[str, Any]:
    """The bilingual error object every 4xx/5xx of the API carries."""
    return {"detail": f"{zh} / {en}", "message_zh": zh, "message_en": en, **extra}


def max_upload_bytes() -> int:
    """The upload cap from ``POLICYQA_MAX_UPLOAD_MB`` (a positive number of MB), else 20 MB."""
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_UPLOAD_MB
    except ValueError:
        mb = -1
    if not 0 < mb <= 1024:
        logger.warning("%s=%r is not a size in MB between 0 and 1024; using %d", MAX_UPLOAD_ENV, raw, DEFAULT_UPLOAD_MB)
        mb = DEFAULT_UPLOAD_MB
    return int(mb * 1024 * 1024)


@dataclass(frozen=True)
class Limits:
    api_body: int = 64 * 1024  # /api/*: a question and 20 earlier ones fit many times over
    other_body: int = 1024 * 1024  # Gradio's event calls carry the conversation kept in the browser
    upload: int = field(default_factory=max_upload_bytes)  # one document, on UPLOAD_PATHS only

    @property
    def upload_body(self) -> int:
        return self.upload + MULTIPART_SLACK


class BodyTooLarge(Exception):
    """Raised from an upload's body stream once it passes the cap: the rest is never read."""

    def __init__(self, limit: int):
        super().__init__(f"request body over {limit:,} bytes")
        self.limit = limit


def too_large_body(limit: int) -> dict[str, Any]:
    mb = limit / (1024 * 1024)
    return error_body(f"文件过大（上限 {mb:g} MB）", f"the file is too large: the limit is {mb:g} MB")


# Gradio's file upload is not used by this app: disabled rather than left open to anyone.
BLOCKED_PREFIXES = ("/gradio_api/upload", "/upload")


class Guard:
    """ASGI middleware: refuses oversized bodies, wrong content types and disabled endpoints; adds security headers."""

    def __init__(self, app: ASGIApp, limits: Limits | None = None):
        self.app = app
        self.limits = limits or Limits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = _with_headers(send, DOCS_CSP if path in ("/docs", "/redoc") else CSP)
        if path.startswith(BLOCKED_PREFIXES):
            await _reply(send, 403, error_body("此功能已关闭", "this endpoint is disabled on this server"))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope["method"] == "POST" and path in UPLOAD_PATHS:
            await self._upload(scope, receive, send, headers)
            return
        if scope["method"] in ("POST", "PUT", "PATCH") and path.startswith("/api/"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if headers.get("content-length", "0") != "0" and ctype != "application/json":
                await _reply(send, 415, error_body("请求体必须是 JSON（Content-Type: application/json）", f"the body must be JSON (Content-Type: application/json), got {ctype or 'none'!r}"))
                return
        limit = self.limits.api_body if path.startswith("/api/") else self.limits.other_body
        body = await _read_body(receive, limit, headers.get("content-length")) if scope["method"] in ("POST", "PUT", "PATCH") else b""
        if body is None:
            await _reply(send, 413, error_body(f"请求体过大（上限 {limit // 1024} KiB）", f"request body too large: the limit is {limit // 1024} KiB"))
            return
        await self.app(scope, _replay(body, receive) if scope["method"] in ("POST", "PUT", "PATCH") else receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        """A document upload: multipart only, and streamed through a counter rather than held in memory."""
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            zh, en = "上传文件须使用 multipart/form-data", f"upload the file as multipart/form-data, got {ctype or 'none'!r}"
            await _reply(send, 415, error_body(zh, en))
            return
        limit, declared = self.limits.upload_body, headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply(send, 413, too_large_body(self.limits.upload))
            return
        await self.app(scope, _capped(receive, limit), send)


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` as soon as more than ``limit`` bytes have come in."""
    total = 0

    async def capped() -> Message:
        nonlocal total
        message = await receive()
        total += len(message.get("body", b""))
        if total > limit:
            raise BodyTooLarge(limit)
        return message

    return capped


async def _read_body(receive: Receive, limit: int, declared: str | None) -> bytes | None:
    """The whole body, or None as soon as it (or its declared length) passes ``limit``."""
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


def _with_headers(send: Send, csp: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            if b"content-security-policy" not in present:
                headers.append((b"content-security-policy", csp.encode()))
            message["headers"] = headers
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# -- the admin token ------------------------------------------------------------------------
class Access(str, Enum):
    GRANTED = "granted"
    DISABLED = "disabled"  # no token configured: the admin view does not exist
    DENIED = "denied"
    LOCKED = "locked"  # too many wrong guesses from this client lately


ACCESS_MESSAGES = {
    Access.DISABLED: ("管理功能未启用（未设置 POLICYQA_ADMIN_TOKEN）", "the admin view is disabled: set POLICYQA_ADMIN_TOKEN"),
    Access.DENIED: ("管理令牌不正确", "wrong or missing admin token (send it in the X-Admin-Token header)"),
    Access.LOCKED: ("尝试次数过多，请一分钟后再试", "too many wrong admin tokens; retry in a minute"),
}
ACCESS_STATUS = {Access.DISABLED: 403, Access.DENIED: 401, Access.LOCKED: 429}


class AdminGate:
    """Checks the admin token on every request; after ``max_failures`` wrong guesses in ``window`` seconds a client waits.

    Client addresses live only in this in-memory table (pruned as it goes), never in a log or the database.
    """

    def __init__(self, token: str | None, *, max_failures: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._digest = hashlib.sha256(token.encode()).digest() if token else None
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def check(self, given: str | None, client: str = "") -> Access:
        if self._digest is None:
            return Access.DISABLED
        now = self.clock()
        recent = self._recent(client, now)
        if len(recent) >= self.max_failures:
            return Access.LOCKED
        # Digests first: compare_digest then runs in time independent of both the token and the guess.
        if hmac.compare_digest(hashlib.sha256((given or "").encode("utf-8", "surrogatepass")).digest(), self._digest):
            return Access.GRANTED
        recent.append(now)
        return Access.DENIED

    def _recent(self, client: str, now: float) -> deque[float]:
        if len(self._failures) > 10_000:  # a flood of addresses: forget the idle ones
            self._failures = {k: v for k, v in self._failures.items() if v and now - v[-1] < self.window}
        recent = self._failures.setdefault(client, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        return recent


def neutralise_cell(value: object) -> object:
    """Defuse spreadsheet formulas: text starting with = + - @ (or a tab/CR) would run when the CSV is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
