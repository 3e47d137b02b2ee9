"""`embedlab ui COLLECTION_OR_FOLDER`: the web page on a local server, opened in the browser.

The same page as ``embedlab serve``'s ``/ui``, on a server of its own on 127.0.0.1 that serves
the collections' own models, so search, the map and neighbours work at once. Everything is
checked before any model loads: a missing folder, a file, a folder with no collection, an
unknown model each stop with one line.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from embedlab.cli.serve import check_model_names
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.paths import cache_home
from embedlab.server.config import ServerConfig
from embedlab.store import UnknownCollectionError, list_collections, open_collection
from embedlab.store.config import check_name
from embedlab.store.local.layout import MANIFEST

DEFAULT_MODEL = "minilm"


def ui_command(
    target: Annotated[
        str,
        typer.Argument(
            help="A collection folder, a folder of collection folders, or the name of a "
            "collection in the server's default folder ($EMBEDLAB_HOME/server/collections).",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to serve (a name or a saved folder). Default: the collections' own.",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")
    ] = 0,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in the web browser.")
    ] = True,
) -> None:
    """Explore collections in the browser: search, a map, neighbours, tokens, compare."""
    location, selected = resolve_target(target)
    models = [model] if model else models_of(location)
    check_model_names(models)
    for module in ("fastapi", "uvicorn"):
        require(module, "server")
    settings = ServerConfig.from_dict(
        {
            "host": "127.0.0.1",
            "port": port,
            "models": models,
            "collections": str(location),
            "log_level": "warning",
        }
    )
    run(settings, selected, open_browser)


def resolve_target(target: str) -> tuple[Path, str | None]:
    """The folder of collections to serve and the collection to show first (None: the first)."""
    path = Path(target).expanduser()
    if path.is_file():
        raise InputError(
            f"{target} is a file, not a collection folder",
            "pass a collection folder (made by `embedlab collection create`) or a folder of them",
        )
    if path.is_dir():
        if (path / MANIFEST).is_file():
            name = path.resolve().name
            check_name(name)  # the server calls a collection by its folder's name
            return path.resolve().parent, name
        if not list_collections(path):
            raise UnknownCollectionError(
                f"{target} holds no collection",
                "pass a collection folder or a folder of them; make one with "
                "`embedlab collection create`",
            )
        return path.resolve(), None
    if any(sep in target for sep in ("/", "\\")) or target.startswith("."):
        raise UnknownCollectionError(
            f"no collection folder at {target}", "check the path (a collection is a folder)"
        )
    default = cache_home() / "server" / "collections"
    if not (default / target / MANIFEST).is_file():
        raise UnknownCollectionError(
            f"no folder {target!r} and no collection {target!r} in the server's folder ({default})",
            "pass the collection's folder, or see `embedlab collection list`",
        )
    return default, target


def models_of(location: Path) -> list[str]:
    """The models the collections in ``location`` were made with (the first served is the
    default for new collections); minilm when none names one."""
    found: list[str] = []
    for name in list_collections(location):
        collection = open_collection(location / name)
        try:
            if collection.model and collection.model not in found:
                found.append(collection.model)
        finally:
            collection.close()
    return found or [DEFAULT_MODEL]


def run(settings: Any, selected: str | None, open_browser: bool) -> None:
    """Load the models, listen on 127.0.0.1, print the page's address; blocks until Ctrl+C."""
    import uvicorn

    from embedlab.server.http.app import create_app
    from embedlab.server.http.timeouts import uvicorn_options

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", settings.port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on 127.0.0.1:{settings.port} ({exc.strerror})",
            "pick another --port, or 0 for a free one",
        ) from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/ui#search"
    if selected:
        url += f"?c={quote(selected)}"
    typer.echo(f"loading {', '.join(settings.models)} ...", err=True)
    try:
        app = create_app(settings)
    except BaseException:
        sock.close()
        raise

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.should_exit:
                return
            typer.echo(f"embedlab ui ready at {url}  (Ctrl+C stops it)")
            if open_browser:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        **uvicorn_options(settings),
    )
    Server(config).run(sockets=[sock])
