"""The web page at ``/ui`` and the few JSON endpoints it needs beyond the server's own API.

The page (static HTML, CSS and JavaScript under ``static/``, no build step, nothing from another
host) is served without a key, so it can load and ask for one; everything it reads goes through
the API with the key the user typed. What the page needs that the API lacks lives here, under
``/v1/ui/...``, with the server's error shape and key check:

- ``GET  /v1/ui/info``: models, collections, how maps are projected and sampled.
- ``GET  /v1/ui/collections/{name}/items``: a page of items, optionally filtered (``where``).
- ``POST /v1/ui/collections/{name}/neighbors``: an item's nearest items.
- ``GET  /v1/ui/collections/{name}/map`` (+ ``/map/field``, ``/map/place``): the 2-D map,
  a metadata field over it, and where a query falls (:mod:`embedlab.server.core.ui_projection`).
- ``POST /v1/ui/contexts``: one word's contextual vectors across texts, with their cosines.
- ``GET  /v1/ui/compare`` and ``/v1/ui/compare/runs``: compare's cached results, and a small
  compare run in the background (:mod:`embedlab.server.core.ui_compare`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field, StrictStr

from embedlab._version import __version__
from embedlab.embedders.transformers.context import compare_contexts
from embedlab.paths import cache_home
from embedlab.server.core.collections import Collections
from embedlab.server.core.errors import UnavailableError
from embedlab.server.core.ui_compare import CompareRuns, cached_rows, defaults, split
from embedlab.server.core.ui_projection import (
    MapCache,
    field_colours,
    place_query,
    projection_method,
)
from embedlab.server.http.auth import require_api_key
from embedlab.server.http.errors import ApiError
from embedlab.server.http.limits import check_inputs
from embedlab.server.http.state import ServerState, get_state
from embedlab.store.filters import parse_filter

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")

router = APIRouter(include_in_schema=False)  # the page and its files: no key needed to load
api = APIRouter(dependencies=[Depends(require_api_key)], tags=["Web page"])


class UiState:
    """The page's server-side state, one per app: map cache and compare runs."""

    def __init__(self) -> None:
        self.maps = MapCache(cache_home() / "ui" / "maps")
        self.compares = CompareRuns()


def _ui(request: Request) -> UiState:
    app_state = request.app.state
    ui = getattr(app_state, "embedlab_ui", None)
    if ui is None:
        ui = app_state.embedlab_ui = UiState()
    return ui


def _store(state: ServerState) -> Collections:
    if state.collections is None:
        raise UnavailableError(
            "collections are not available on this server", "start it with --collections"
        )
    store: Collections = state.collections
    return store


async def _thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


# -- the page --------------------------------------------------------------------------------------
@router.get("/ui")
@router.get("/ui/")
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-cache"}
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain",
}


@router.get("/ui/static/{path:path}")
async def static(path: str) -> FileResponse:
    root = STATIC.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix not in _TYPES:
        raise ApiError(404, f"no such file: /ui/static/{path}", code="not_found")
    return FileResponse(target, media_type=_TYPES[target.suffix], headers=_NO_STORE)


# -- what the page starts from ---------------------------------------------------------------------
@api.get("/v1/ui/info", summary="Models, collections and map settings, for the page")
async def info(request: Request) -> dict[str, Any]:
    state = get_state(request)
    names: list[str] = []
    if state.collections is not None:
        names = await _thread(state.collections.names)
    return {
        "version": __version__,
        "models": [
            {
                "id": m.id,
                "name": m.embedder.name,
                "contextual": hasattr(m.embedder, "hidden_states"),
            }
            for m in state.models.values()
        ],
        "collections": names,
        "projection": projection_method(),
        "max_points": _ui(request).maps.max_points,
        "compare_defaults": defaults(),
    }


# -- items -----------------------------------------------------------------------------------------
def _where(text: str | None) -> Any:
    if text is None or not text.strip():
        return None
    try:
        where = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"the filter is not valid JSON ({exc.msg} at position {exc.pos}); "
            'write e.g. {"topic": "pets"} or {"year": {"$gte": 2020}}',
            code="invalid_filter",
            param="where",
        ) from None
    parse_filter(where)  # the store's own check and message
    return where


@api.get("/v1/ui/collections/{name}/items", summary="A page of items, optionally filtered")
async def items(
    name: str,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    where: Annotated[str | None, Query(description="A metadata filter as JSON")] = None,
) -> dict[str, Any]:
    parsed = _where(where)

    def read(collection: Any) -> dict[str, Any]:
        total = collection.count(parsed)
        records = collection.page(offset, limit, where=parsed) if offset < total else []
        page = [record.to_dict() for record in records]
        return {"object": "list", "total": total, "offset": offset, "limit": limit, "data": page}

    store = _store(get_state(request))
    return await _thread(store.run, name, read)


class Neighbors(BaseModel):
    id: StrictStr | int = Field(description="The item whose neighbours to find")
    k: Annotated[int, Field(ge=1, le=100)] = 8


@api.post("/v1/ui/collections/{name}/neighbors", summary="An item's nearest items")
async def neighbors(name: str, body: Neighbors, request: Request) -> dict[str, Any]:
    item_id = str(body.id)

    def find(collection: Any) -> dict[str, Any]:
        record = collection.get(item_id, include=("text", "metadata", "vector"))
        if record is None:
            raise ApiError(
                404, f"no item {item_id!r} in collection {name!r}", code="item_not_found"
            )
        hits = collection.search(record.vector, body.k + 1, include=("text", "metadata"))
        found = [hit.to_dict() for hit in hits if hit.id != item_id][: body.k]
        item = {"id": record.id, "text": record.text, "metadata": record.metadata}
        return {"object": "list", "item": item, "data": found}

    store = _store(get_state(request))
    return await _thread(store.run, name, find)


# -- the map ---------------------------------------------------------------------------------------
@api.get("/v1/ui/collections/{name}/map", summary="The collection projected to 2-D, clustered")
async def collection_map(name: str, request: Request) -> Response:
    store = _store(get_state(request))
    data, source = await _thread(_ui(request).maps.get, store, name)
    return Response(
        data.body, media_type="application/json", headers={"X-Embedlab-Map-Source": source}
    )


@api.get("/v1/ui/collections/{name}/map/field", summary="One metadata field over the map")
async def map_field(
    name: str, request: Request, field: Annotated[str, Query(max_length=200)]
) -> Response:
    store = _store(get_state(request))
    maps = _ui(request).maps
    data, _ = await _thread(maps.get, store, name)
    body = await _thread(field_colours, store, name, data, field)
    return Response(body, media_type="application/json")


class Place(BaseModel):
    query: StrictStr


@api.post("/v1/ui/collections/{name}/map/place", summary="Where a query falls on the map")
async def map_place(name: str, body: Place, request: Request) -> dict[str, Any]:
    state = get_state(request)
    (query,) = check_inputs(
        [body.query], max_inputs=1, max_chars=state.config.max_chars_per_input, truncate=False
    )
    store = _store(state)
    data, _ = await _thread(_ui(request).maps.get, store, name)
    return await _thread(place_query, store, name, data, query)


# -- tokens: one word in several contexts ----------------------------------------------------------
class Contexts(BaseModel):
    word: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    texts: Annotated[list[StrictStr], Field(min_length=2, max_length=8)]
    model: str | None = Field(default=None, description="A served model; default: the first")
    layer: int | None = Field(default=None, description="Hidden state; default: the last")


@api.post("/v1/ui/contexts", summary="One word's contextual vectors across texts, compared")
async def contexts(body: Contexts, request: Request) -> dict[str, Any]:
    state = get_state(request)
    model = state.find_model(body.model) if body.model else next(iter(state.models.values()))
    texts = check_inputs(
        body.texts, max_inputs=8, max_chars=state.config.max_chars_per_input, truncate=False
    )

    def run() -> dict[str, Any]:
        return compare_contexts(model.embedder, body.word, texts, layer=body.layer).to_dict()  # type: ignore[arg-type]

    try:
        return await asyncio.wait_for(
            state.batcher(model).in_prep_thread(run), state.config.request_timeout_s
        )
    except TimeoutError:
        raise ApiError(503, "comparing the contexts timed out", code="timeout") from None


# -- compare ---------------------------------------------------------------------------------------
@api.get("/v1/ui/compare", summary="compare's cached results (nothing is measured)")
async def compare_cached(
    request: Request,
    models: str | None = None,
    tasks: str | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    default = defaults()
    model_list = split(models, tuple(default["models"]))
    task_list = split(tasks, tuple(default["tasks"]))
    rows = await _thread(cached_rows, model_list, task_list, limit)
    return {"object": "list", "tasks": task_list, "limit": limit, "data": rows}


class CompareRequest(BaseModel):
    models: list[StrictStr] | StrictStr = "tfidf"
    tasks: list[StrictStr] | StrictStr = "sts"
    limit: Annotated[int, Field(ge=1, le=100_000)] | None = 200


@api.post("/v1/ui/compare/runs", status_code=202, summary="Run a small compare in the background")
async def compare_start(body: CompareRequest, request: Request) -> dict[str, Any]:
    runs = _ui(request).compares
    busy = runs.running()
    if busy is not None:
        raise ApiError(
            409,
            f"a compare is already running ({busy.id}, {busy.done} of {len(busy.models)} models "
            "done); wait for it to finish",
            code="compare_running",
        )
    models = split(body.models, ())
    tasks = split(body.tasks, ())
    if not models or not tasks:
        raise ApiError(400, "name at least one model and one task", code="invalid_request")
    run = await _thread(runs.start, models, tasks, body.limit)
    return run.public()


@api.get("/v1/ui/compare/runs/{run_id}", summary="A compare run's progress and results")
async def compare_run(run_id: str, request: Request) -> dict[str, Any]:
    run = _ui(request).compares.get(run_id)
    if run is None:
        raise ApiError(404, f"no compare run {run_id!r}", code="run_not_found", param="run_id")
    return run.public()


router.include_router(api)
