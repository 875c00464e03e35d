"""Browser-facing hardening: CSRF on every form, a nonce-based CSP and security headers."""

from __future__ import annotations

import secrets

from flask import Flask, Response, g
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

# Scripts and styles only from this origin or carrying this response's nonce: a payload
# that smuggles <script> or an inline handler into a page cannot run.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csp_nonce() -> str:
    """This response's CSP nonce, made on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask) -> None:
    """Protect every POST of the app with CSRF except the REST API, which uses bearer tokens.

    Bearer tokens are not sent by browsers on their own, so cross-site requests cannot
    ride on them; cookies are, so every cookie-authenticated form carries a token.
    """
    csrf.init_app(app)
    if "rest" in app.blueprints:
        csrf.exempt(app.blueprints["rest"])
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_secure_headers)


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"  # pages show payloads and tokens
    return response
