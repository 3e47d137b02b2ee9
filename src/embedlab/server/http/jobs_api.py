"""The jobs routes: ``POST /v1/jobs`` (an uploaded file, or a path in ``--data-dir``, into a
Parquet file or a collection), ``GET /v1/jobs``, ``GET /v1/jobs/{id}`` (progress) and
``GET /v1/jobs/{id}/output`` (a Parquet job's file).

The work itself lives in :mod:`embedlab.server.core.jobs`; this module only checks and translates.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from embedlab.server.core.jobs import JobManager, resolve_data_path
from embedlab.server.core.served import ServedModel
from embedlab.server.http.auth import require_api_key
from embedlab.server.http.errors import ApiError
from embedlab.server.http.state import ServerState, get_state
from embedlab.store.config import check_name
from embedlab.text.readers import FORMATS

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["Batch jobs"])


def _jobs(state: ServerState) -> JobManager:
    if state.jobs is None:
        raise ApiError(503, "batch jobs are not running on this server", code="jobs_unavailable")
    return state.jobs


def _upload_suffix(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        raise ApiError(
            400,
            f"the uploaded file {name!r} has the extension {suffix or '(none)'!r}; "
            "upload .txt (one text a line), .jsonl, .csv, .tsv or .parquet",
            code="invalid_file",
            param="file",
        )
    return suffix


@router.post("/v1/jobs", status_code=202, summary="Embed a whole file in the background")
async def create_job(
    request: Request,
    file: Annotated[UploadFile | None, File(description="A file of texts to upload")] = None,
    path: Annotated[
        str | None, Form(description="Or: a file inside the server's --data-dir")
    ] = None,
    model: Annotated[str | None, Form(description="A served model; default: the first")] = None,
    field: Annotated[str | None, Form(description="Text field of .jsonl/.csv/.parquet")] = None,
    id_field: Annotated[str | None, Form(description="Id field; default: the row number")] = None,
    skip_empty: Annotated[bool, Form()] = False,
    normalize: Annotated[
        bool | None, Form(description="Parquet only. Default: the server's setting")
    ] = None,
    collection: Annotated[
        str | None,
        Form(
            description="Embed into this collection (created with the job's model if missing) "
            "instead of a Parquet file; items are upserted by id"
        ),
    ] = None,
    metadata_fields: Annotated[
        str | None,
        Form(
            description="Collection only: comma-separated fields kept as metadata "
            "(default: all fields but the text and id)"
        ),
    ] = None,
) -> dict[str, Any]:
    state = get_state(request)
    jobs = _jobs(state)
    if (file is None) == (path is None):
        raise ApiError(
            400,
            "send either a file (multipart field 'file') or a path inside the data folder "
            "(form field 'path'), not both and not neither",
            code="invalid_request",
        )
    # Check the input first: a refused request must leave no collection behind.
    source: Path | None = None
    suffix = ""
    if file is not None:
        name = PurePath(file.filename or "upload.txt").name
        suffix = _upload_suffix(name)
    else:
        assert path is not None
        name = path
        source = resolve_data_path(state.config.data_dir, path)
    served = state.find_model(model) if model else None
    if collection:
        served = await asyncio.to_thread(_collection_target, state, collection, served)
    elif metadata_fields:
        raise ApiError(
            400,
            "metadata_fields only applies to a job into a collection; add 'collection'",
            code="invalid_request",
            param="metadata_fields",
        )
    served = served or next(iter(state.models.values()))
    fields = (
        [f.strip() for f in metadata_fields.split(",") if f.strip()] if metadata_fields else None
    )
    options: dict[str, Any] = {
        "model": served.id,
        "source_name": name,
        "field": field or None,
        "id_field": id_field or None,
        "skip_empty": skip_empty,
        "normalize": state.config.normalize if normalize is None else normalize,
        "collection": collection or None,
        "metadata_fields": fields,
    }
    if file is not None:

        def write_input(folder: Path) -> Path:
            target = folder / f"input{suffix}"
            file.file.seek(0)
            with target.open("wb") as out:
                shutil.copyfileobj(file.file, out, 1 << 20)
            return target

        job = await asyncio.to_thread(
            jobs.create, source_kind="upload", write_input=write_input, **options
        )
    else:
        job = await asyncio.to_thread(jobs.create, source_kind="data_dir", source=source, **options)
    return jobs.describe(job)


def _collection_target(state: ServerState, name: str, requested: ServedModel | None) -> ServedModel:
    """Check (or create) the target collection; the served model its job must embed with."""

    if state.collections is None:
        raise ApiError(503, "collections are not available on this server", code="unavailable")
    check_name(name)
    return state.collections.job_target(name, requested)


@router.get("/v1/jobs", summary="All jobs, oldest first")
async def list_jobs(request: Request) -> dict[str, Any]:
    jobs = _jobs(get_state(request))
    listed = await asyncio.to_thread(lambda: [jobs.describe(job) for job in jobs.all()])
    return {"object": "list", "data": listed}


def _find(jobs: JobManager, job_id: str) -> Any:
    job = jobs.load(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id!r}", code="job_not_found", param="job_id")
    return job


@router.get("/v1/jobs/{job_id}", summary="A job's status and progress")
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    jobs = _jobs(get_state(request))
    return jobs.describe(_find(jobs, job_id))


@router.get(
    "/v1/jobs/{job_id}/output",
    summary="A finished Parquet job's file (id, text, vector)",
    response_class=FileResponse,
)
async def get_job_output(job_id: str, request: Request) -> FileResponse:
    jobs = _jobs(get_state(request))
    job = _find(jobs, job_id)
    if job.collection is not None:
        raise ApiError(
            404,
            f"job {job_id} embedded into the collection {job.collection!r}, not a file; search or "
            f"read it at /v1/collections/{job.collection}",
            code="no_output_file",
        )
    if job.status != "succeeded":
        raise ApiError(409, f"job {job_id} is {job.status}, not finished", code="job_not_finished")
    return FileResponse(
        jobs.output_path(job),
        media_type="application/vnd.apache.parquet",
        filename=f"{job_id}.parquet",
    )
