"""The web chat (Gradio, mounted at ``/``) and the HTTP API (``/api``) on one FastAPI app.

``state`` holds the assistant and the feedback store, ``api`` the REST routes, ``upload_api`` and
``uploads`` the admin's document upload and background rebuild, ``render`` the HTML (from ``templates/``),
``ui`` the Gradio page, ``security`` the request guard and admin token, and ``server`` puts them together
and serves them.
"""

from __future__ import annotations

from .render import md_text, unit_html
from .server import ADMIN_TOKEN_ENV, app_factory, create_app, serve
from .state import LOADING_MESSAGE

__all__ = ["ADMIN_TOKEN_ENV", "LOADING_MESSAGE", "app_factory", "create_app", "md_text", "serve", "unit_html"]
