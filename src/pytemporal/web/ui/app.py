"""The aiohttp application of the web UI: routes, templates, errors and the token.

Pages are rendered on the server with Jinja2; `static/ui.js` only adds live refresh
and in-place loading on top of plain links and forms, so every page works without it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import grpc
import jinja2
from aiohttp import web

from pytemporal.common.health import Health, http_routes
from pytemporal.web.ui import decode
from pytemporal.web.ui.backend import Calls, Frontend, UIError, ui_error

log = logging.getLogger(__name__)

TOKEN_COOKIE = "pytemporal-token"
FRONTEND = web.AppKey("frontend", Frontend)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
AUTH_REQUIRED = web.AppKey("auth_required", bool)
# Paths served without a token.
_OPEN = ("/health", "/static/", "/login", "/logout")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_of(request: web.Request) -> str | None:
    """The bearer token of a request: its Authorization header, else the cookie."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip():
        return header[7:].strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def calls(request: web.Request) -> Calls:
    return request.app[FRONTEND].calls(token_of(request))


def q(value: Any) -> str:
    """One URL path segment (workflow ids may hold slashes)."""
    return quote(str(value), safe="")


def workflow_url(namespace: str, workflow_id: str, run_id: str = "") -> str:
    url = f"/namespaces/{q(namespace)}/workflows/{q(workflow_id)}"
    return f"{url}/{q(run_id)}" if run_id else url


def see_other(location: str) -> web.Response:
    """The answer to a form post: the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location})


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[TEMPLATES]
    namespace = request.match_info.get("namespace", context.pop("namespace", "default"))
    page = env.get_template(template).render(
        request=request,
        namespace=namespace,
        signed_in=token_of(request) is not None,
        auth_required=request.app[AUTH_REQUIRED],
        **context,
    )
    return web.Response(text=page, status=status, content_type="text/html")


def error_page(request: web.Request, error: UIError) -> web.Response:
    return render(
        request, "error.html", status=error.status, title=error.title, message=error.message
    )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes an error page with the server's message: never a trace."""
    try:
        return await handler(request)
    except UIError as e:
        return error_page(request, e)
    except grpc.aio.AioRpcError as e:
        return error_page(request, ui_error(e))
    except web.HTTPNotFound:
        return error_page(request, UIError(404, "Not found", f"No page at {request.path}."))
    except web.HTTPMethodNotAllowed as e:
        return error_page(request, UIError(405, "Method not allowed", e.reason))
    except web.HTTPException:
        raise  # redirects and the like
    except Exception:
        log.exception("web UI page %s failed", request.path)
        return error_page(
            request,
            UIError(500, "Internal error", "The page could not be built; the server log says why."),
        )


def _same_origin(request: web.Request) -> bool:
    """A form post must come from a page of this UI (the cookie is SameSite=Strict as
    well; this also covers browsers that send no SameSite)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return source is None  # non-browser clients send neither
    return urlsplit(source).netloc == request.host


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        raise UIError(403, "Forbidden", "A form of another site posted to this UI.")
    if request.path.startswith(_OPEN) or not request.app[AUTH_REQUIRED]:
        return await handler(request)
    if token_of(request) is None:
        target = request.path_qs if request.method == "GET" else "/"
        raise web.HTTPFound(f"/login?next={quote(target, safe='')}")
    return await handler(request)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytemporal.web.ui", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(workflow_url=workflow_url, q=q)
    env.filters.update(
        time=decode.format_time,
        pretty=decode.pretty,
        compact=decode.compact,
        duration=decode.format_duration,
        status=decode.status_name,
        event_type=decode.event_type_name,
    )
    return env


def create_app(
    frontend: Frontend, health: Health, *, auth_required: bool = False
) -> web.Application:
    # Imported here: the page modules import this one for `render` and `calls`.
    from pytemporal.web.ui import pages, schedules, session, workflow_page, workflows

    app = web.Application(middlewares=[errors, authentication])
    app[FRONTEND] = frontend
    app[TEMPLATES] = _environment()
    app[AUTH_REQUIRED] = auth_required
    app.add_routes(http_routes(health))
    for module in (session, pages, workflows, workflow_page, schedules):
        app.add_routes(module.routes)
    app.router.add_static("/static/", Path(__file__).with_name("static"), name="static")
    return app
