"""Collections over HTTP: a thin router over :mod:`embedlab.store`.

``/v1/collections`` lists and creates; ``/v1/collections/{name}`` gives info or drops;
``.../add``, ``.../upsert``, ``.../delete``, ``.../get`` and ``.../search`` (dense, hybrid or
keyword, with metadata filters) do the rest. The store does all checking, storing and searching;
this module only translates, applies the server's request limits, and keeps collections open.

- Where: ``--collections`` is a folder of collection folders (the local backend) or a
  ``postgresql://`` DSN; the default is ``$EMBEDLAB_HOME/server/collections``.
- Open collections, their locks and their embedders are :mod:`embedlab.server.core.collections`;
  store calls run in worker threads, one at a time per collection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictInt, StrictStr

from embedlab.paths import cache_home
from embedlab.server.core.collections import Collections, build_demo
from embedlab.server.core.errors import UnavailableError
from embedlab.server.core.proxy import batcher_submitter
from embedlab.server.http.auth import require_api_key
from embedlab.server.http.errors import ApiError
from embedlab.server.http.limits import check_inputs
from embedlab.server.http.state import ServerState, get_state

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["Collections"])
T = TypeVar("T")
NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$"
Include = Literal["text", "metadata", "vector"]
ItemId = StrictStr | StrictInt


def _collections(state: ServerState) -> Collections:
    if state.collections is None:
        raise UnavailableError(
            "collections are not available on this server", "start it with --collections"
        )
    return state.collections


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


# -- requests --------------------------------------------------------------------------------------
class CreateCollection(BaseModel):
    name: Annotated[str, Field(pattern=NAME, description="1-48 letters, digits, '_' or '-'")]
    model: str | None = Field(default=None, description="A served model; default: the first")
    metric: Literal["cosine", "dot", "l2"] = "cosine"
    storage: Literal["float32", "float16", "int8", "binary"] = "float32"
    index: Literal["auto", "hnsw", "flat"] = "auto"
    exist_ok: bool = False


class Items(BaseModel):
    texts: list[StrictStr] | None = Field(default=None, description="Embedded by the server")
    ids: list[ItemId] | None = Field(default=None, description="Generated when left out (add)")
    metadatas: list[dict[str, Any] | None] | None = None
    vectors: list[list[float]] | None = Field(
        default=None, description="Precomputed vectors instead of (or with) texts"
    )


class DeleteItems(BaseModel):
    ids: list[ItemId] | None = None
    where: dict[str, Any] | None = Field(default=None, description="A metadata filter")


class GetItems(BaseModel):
    ids: list[ItemId] = Field(max_length=10_000)
    include: list[Include] = ["text", "metadata"]


class Search(BaseModel):
    query: StrictStr | list[float] = Field(description="A text, or a vector (dense mode)")
    k: Annotated[int, Field(ge=1, le=1000)] = 10
    mode: Literal["dense", "hybrid", "keyword"] = "dense"
    where: dict[str, Any] | None = Field(default=None, description="A metadata filter")
    include: list[Include] = ["text", "metadata"]
    fusion: Literal["rrf", "weighted"] = "rrf"
    weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    exact: bool = False
    explain: bool = Field(
        default=False,
        description="Per hit, why it scored so: top token pairs (dense), matching terms "
        "(keyword), each side's part of the fused score (hybrid); needs a text query",
    )


def _check_items(state: ServerState, body: Items) -> list[str] | None:
    if body.texts is None:
        return None
    config = state.config
    return check_inputs(
        body.texts,
        max_inputs=config.max_inputs_per_request,
        max_chars=config.max_chars_per_input,
        truncate=False,
        max_total_chars=config.max_chars_per_request,
    )


# -- routes ----------------------------------------------------------------------------------------
@router.get("/v1/collections", summary="Names of the collections")
async def list_all(request: Request) -> dict[str, Any]:
    names = await _in_thread(_collections(get_state(request)).names)
    return {"object": "list", "data": names}


@router.post("/v1/collections", status_code=201, summary="Create a collection")
async def create(body: CreateCollection, request: Request) -> dict[str, Any]:
    state = get_state(request)
    store = _collections(state)
    served = state.find_model(body.model) if body.model else next(iter(state.models.values()))
    options = body.model_dump(exclude={"name", "model"})

    def make() -> dict[str, Any]:
        return store.create(body.name, served, **options).info()

    return await _in_thread(make)


@router.get("/v1/collections/{name}", summary="A collection's model, counts and index")
async def info(name: str, request: Request) -> dict[str, Any]:
    return await _in_thread(_collections(get_state(request)).run, name, lambda c: c.info())


@router.delete("/v1/collections/{name}", summary="Drop a whole collection")
async def drop(name: str, request: Request) -> dict[str, Any]:
    await _in_thread(_collections(get_state(request)).drop, name)
    return {"name": name, "dropped": True}


async def _write(name: str, body: Items, request: Request, upsert: bool) -> dict[str, Any]:
    state = get_state(request)
    texts = _check_items(state, body)
    count = len(texts) if texts is not None else len(body.vectors or [])
    if count > state.config.max_inputs_per_request:
        raise ApiError(
            400,
            f"{count} items in one request; send at most {state.config.max_inputs_per_request}",
            code="too_many_inputs",
        )

    def write(collection: Any) -> list[str]:
        method = collection.upsert if upsert else collection.add
        return method(texts, ids=body.ids, metadatas=body.metadatas, vectors=body.vectors)

    store = _collections(state)
    ids = await _in_thread(lambda: store.run(name, write, embeds=texts is not None))
    return {"ids": ids, "count": len(ids)}


@router.post("/v1/collections/{name}/add", summary="Add new items (an existing id is an error)")
async def add(name: str, body: Items, request: Request) -> dict[str, Any]:
    return await _write(name, body, request, upsert=False)


@router.post("/v1/collections/{name}/upsert", summary="Add or replace items by id")
async def upsert(name: str, body: Items, request: Request) -> dict[str, Any]:
    return await _write(name, body, request, upsert=True)


@router.post("/v1/collections/{name}/delete", summary="Delete items by id and/or filter")
async def delete(name: str, body: DeleteItems, request: Request) -> dict[str, Any]:
    def remove(collection: Any) -> int:
        return collection.delete(body.ids, where=body.where)

    return {"deleted": await _in_thread(_collections(get_state(request)).run, name, remove)}


@router.post("/v1/collections/{name}/get", summary="Items by id, in the order asked")
async def get_items(name: str, body: GetItems, request: Request) -> dict[str, Any]:
    def fetch(collection: Any) -> list[dict[str, Any]]:
        return [r.to_dict() for r in collection.get(body.ids, include=tuple(body.include))]

    data = await _in_thread(_collections(get_state(request)).run, name, fetch)
    return {"object": "list", "data": data}


@router.post("/v1/collections/{name}/search", summary="Dense, hybrid or keyword search")
async def search(name: str, body: Search, request: Request) -> dict[str, Any]:
    state = get_state(request)
    if isinstance(body.query, str):
        check_inputs(
            [body.query], max_inputs=1, max_chars=state.config.max_chars_per_input, truncate=False
        )
    elif body.mode != "dense":
        raise ApiError(400, f"{body.mode} search needs a text query", param="query")
    elif body.explain:
        raise ApiError(400, "explain needs a text query, not a vector", param="explain")
    include = tuple(body.include)

    def find(collection: Any) -> list[dict[str, Any]]:
        if body.mode == "hybrid":
            hits = collection.hybrid_search(
                body.query,
                body.k,
                where=body.where,
                fusion=body.fusion,
                weight=body.weight,
                include=include,
                explain=body.explain,
            )
        elif body.mode == "keyword":
            hits = collection.keyword_search(
                body.query, body.k, where=body.where, include=include, explain=body.explain
            )
        else:
            hits = collection.search(
                body.query,
                body.k,
                where=body.where,
                include=include,
                exact=body.exact,
                explain=body.explain,
            )
        return [hit.to_dict() for hit in hits]

    store = _collections(state)
    data = await _in_thread(lambda: store.run(name, find, embeds=isinstance(body.query, str)))
    return {"object": "list", "mode": body.mode, "data": data}


# -- life cycle ------------------------------------------------------------------------------------
async def start(state: ServerState) -> None:
    """Open the collections location; with ``--demo``, (re)build the demo collection."""
    location = state.config.collections or str(_default_location())
    submitter = batcher_submitter(asyncio.get_running_loop(), state.batcher, state.token_limit)
    store = Collections(location, state.models, submitter)
    state.collections = store
    if state.jobs is not None:
        state.jobs.collections = store
    if state.config.demo:
        await _in_thread(build_demo, store, next(iter(state.models.values())))


async def stop(state: ServerState) -> None:
    if state.collections is not None:
        await _in_thread(state.collections.close)


def _default_location() -> Path:
    return cache_home() / "server" / "collections"
