"""Static files under content-hashed names, compressed once, cached for a year.

Every file of app/static is known by a name carrying a hash of its content
("css/app.css" → "css/app.3f2a1b9c0d.css"); templates ask `static_url('css/app.css')`. The
files are read and compressed (gzip and brotli) once per process, on first use, and sent with
`Cache-Control: public, max-age=31536000, immutable`: a changed file gets a new name, so a
browser never asks twice for the same one. In production nginx serves the same names from the
folder `flask assets build` writes, with the .gz and .br files beside them (docs/deploy.md).
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import brotli
import click
from flask import Flask, current_app, has_request_context, request
from werkzeug.wrappers import Request, Response

IMMUTABLE = "public, max-age=31536000, immutable"
#: compressing these gains nothing
PRECOMPRESSED = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".gz", ".br"}

PREFIX = "/assets/"


@dataclass
class Asset:
    path: Path
    hashed: str
    mimetype: str
    body: bytes = b""
    encoded: dict[str, bytes] = field(default_factory=dict)


class Manifest:
    """Logical name → Asset, for every file under one folder; built once per process."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            name = path.relative_to(folder).as_posix()
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:10]
            stem, dot, suffix = name.rpartition(".")
            hashed = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if mimetype.startswith("text/") or mimetype in ("application/javascript", "image/svg+xml",
                                                             "application/manifest+json", "application/json"):
                mimetype += "; charset=utf-8"
            asset = Asset(path=path, hashed=hashed, mimetype=mimetype, body=body)
            if path.suffix not in PRECOMPRESSED and len(body) > 256:
                asset.encoded["br"] = brotli.compress(body, quality=11)
                asset.encoded["gzip"] = gzip.compress(body, compresslevel=9, mtime=0)
            self.by_name[name] = asset
            self.by_hashed[hashed] = asset

    def url_name(self, name: str) -> str:
        try:
            return self.by_name[name].hashed
        except KeyError:
            raise KeyError(f"no static file {name!r} under {self.folder}") from None


@cache
def manifest_of(folder: str) -> Manifest:
    """One manifest per folder and process: files are read and compressed once."""
    return Manifest(Path(folder))


def manifest() -> Manifest:
    return manifest_of(current_app.static_folder)


def static_url(name: str) -> str:
    """The content-hashed URL of a file under app/static."""
    root = request.script_root if has_request_context() else ""
    return root + PREFIX + manifest().url_name(name)


def _accepted(header: str) -> list[str]:
    accepted = []
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if params.strip().replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        accepted.append(coding.strip().lower())
    return accepted


def serve(found: Manifest, incoming: Request) -> Response:
    """A hashed static file, in the best encoding the browser accepts; before Flask, so that no
    session, user or database is touched (and no `Vary: Cookie` spoils shared caches)."""
    filename = incoming.path[len(PREFIX):]
    asset = found.by_hashed.get(filename)
    if asset is None or incoming.method not in ("GET", "HEAD"):
        return Response("Không tìm thấy tệp.", status=404, mimetype="text/plain")
    accepted = _accepted(incoming.headers.get("Accept-Encoding", ""))
    body, coding = asset.body, None
    for candidate in ("br", "gzip"):
        if candidate in asset.encoded and candidate in accepted:
            body, coding = asset.encoded[candidate], candidate
            break
    response = Response(body, mimetype=asset.mimetype)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(filename.rsplit(".", 2)[-2] if filename.count(".") >= 2 else filename)
    if coding:
        response.headers["Content-Encoding"] = coding
    return response.make_conditional(incoming)


def favicon(found: Manifest) -> Response:
    """Browsers ask for /favicon.ico whatever the page says: the icon, cached for a day."""
    response = Response(found.by_name["icons/favicon.ico"].body, mimetype="image/x-icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


class AssetsMiddleware:
    """Answers /assets/… and /favicon.ico itself; everything else goes to the app."""

    def __init__(self, wsgi_app, folder: str, headers: dict[str, str]):
        self.wsgi_app, self.folder, self.headers = wsgi_app, folder, headers

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX) or path == "/favicon.ico":
            found = manifest_of(self.folder)
            response = favicon(found) if path == "/favicon.ico" else serve(found, Request(environ))
            for name, value in self.headers.items():
                response.headers.setdefault(name, value)
            return response(environ, start_response)
        return self.wsgi_app(environ, start_response)


@click.group("assets", help="Static files under content-hashed names (docs/deploy.md).")
def assets_cli():
    pass


@assets_cli.command("build")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def build(target: Path):
    """Write every static file under its hashed name into TARGET, with .gz and .br beside it, for
    nginx to serve at /assets/ (gzip_static, brotli_static)."""
    found = manifest()
    for asset in found.by_hashed.values():
        out = target / asset.hashed
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(asset.body)
        for coding, suffix in (("gzip", ".gz"), ("br", ".br")):
            if coding in asset.encoded:
                out.with_name(out.name + suffix).write_bytes(asset.encoded[coding])
        stamp = int(os.path.getmtime(asset.path))
        os.utime(out, (stamp, stamp))
    click.echo(f"{len(found.by_hashed)} tệp tĩnh đã ghi vào {target}")


#: pages smaller than this gain less than the header costs
COMPRESS_MIN_BYTES = 1024
COMPRESSED_TYPES = ("text/html", "application/json")


def compress_page(response: Response) -> Response:
    """A page or JSON answer, brotli or gzip as the browser accepts: a lesson's 21 KB of HTML is
    6 KB on a phone's connection (nginx leaves an encoded answer as it is, docs/deploy.md).

    Never when the address has a query: a page that echoes what was typed (a search) and holds a
    secret (the CSRF token) must not be compressed, or its size would leak the secret (BREACH). Only
    GET answers of 200, built in memory (downloads stream as they are).
    """
    if (request.method != "GET" or request.query_string or response.status_code != 200
            or response.direct_passthrough or response.is_streamed
            or response.mimetype not in COMPRESSED_TYPES or "Content-Encoding" in response.headers):
        return response
    body = response.get_data()
    if len(body) < COMPRESS_MIN_BYTES:
        return response
    response.vary.add("Accept-Encoding")
    accepted = _accepted(request.headers.get("Accept-Encoding", ""))
    if "br" in accepted:
        response.set_data(brotli.compress(body, quality=5))
        response.headers["Content-Encoding"] = "br"
    elif "gzip" in accepted:
        response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    from .security import SECURITY_HEADERS

    app.wsgi_app = AssetsMiddleware(app.wsgi_app, app.static_folder, {
        "X-Content-Type-Options": SECURITY_HEADERS["X-Content-Type-Options"],
        "Cross-Origin-Resource-Policy": SECURITY_HEADERS["Cross-Origin-Resource-Policy"]})
    app.jinja_env.globals["static_url"] = static_url
    app.after_request(compress_page)
    app.cli.add_command(assets_cli)
