"""The token page: paste a bearer token, kept in the `pytemporal-token` cookie."""

from __future__ import annotations

from aiohttp import web

from pytemporal.web.ui.app import TOKEN_COOKIE, render, see_other

routes = web.RouteTableDef()


def _next(value: str | None) -> str:
    # Only a path of this site: never an open redirect.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", next=_next(request.query.get("next")), error="")


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    token = str(form.get("token", "")).strip().removeprefix("Bearer ").strip()
    target = _next(str(form.get("next", "")))
    if not token:
        return render(request, "login.html", status=400, next=target, error="Paste a token.")
    response = see_other(target)
    # HttpOnly: page scripts never see it; Strict: no other site's request carries it.
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    response = see_other("/login")
    response.del_cookie(TOKEN_COOKIE, path="/")
    return response
