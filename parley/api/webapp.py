"""The web page as an app: the page itself (`/`), its files (`/static/`), the web app manifest and the
service worker (`/sw.js`, made at start from parley/web/sw.js with this version's shell: the files a page
needs to open without the server, and a hash of them that names the worker's cache)."""

import hashlib
import json
from importlib import resources
from pathlib import Path

from aiohttp import web

WEB_DIR = Path(str(resources.files("parley") / "web"))
SHELL_SUFFIXES = {".js", ".css", ".woff2", ".png", ".svg", ".webmanifest"}
NO_CACHE = {"Cache-Control": "no-cache"}


def shell_files(web_dir: Path = WEB_DIR) -> list[Path]:
    """What the page loads from /static/ (sw.js aside: a worker does not cache itself)."""
    return sorted(p for p in web_dir.rglob("*") if p.is_file() and p.suffix in SHELL_SUFFIXES and p.name != "sw.js")


def service_worker_source(web_dir: Path = WEB_DIR) -> str:
    files = shell_files(web_dir)
    digest = hashlib.sha256()
    for path in [web_dir / "index.html", *files]:
        digest.update(path.relative_to(web_dir).as_posix().encode() + b"\0" + path.read_bytes())
    shell = ["/", *(f"/static/{p.relative_to(web_dir).as_posix()}" for p in files)]
    source = (web_dir / "sw.js").read_text(encoding="utf-8")
    return source.replace('"__VERSION__"', json.dumps(digest.hexdigest()[:16])).replace("__SHELL__", json.dumps(shell))


def add_webapp_routes(app: web.Application) -> None:
    page = WEB_DIR / "index.html"

    async def index(request: web.Request) -> web.StreamResponse:
        if not page.exists():
            return web.Response(text="Parley is running. The web client is not installed.\n")
        return web.FileResponse(page, headers=NO_CACHE)

    app.router.add_get("/", index)
    if not page.exists():
        return
    worker = service_worker_source().encode()
    manifest = (WEB_DIR / "manifest.webmanifest").read_bytes()

    async def service_worker(request: web.Request) -> web.Response:
        return web.Response(body=worker, content_type="text/javascript", headers=NO_CACHE)

    async def app_manifest(request: web.Request) -> web.Response:
        return web.Response(body=manifest, content_type="application/manifest+json", headers=NO_CACHE)

    app.router.add_get("/sw.js", service_worker)
    app.router.add_get("/manifest.webmanifest", app_manifest)
    app.router.add_static("/static/", WEB_DIR, append_version=False)
