"""The jobs routes: ``POST /v1/jobs`` (an uploaded file, or a path in ``--data-dir``),
``GET /v1/jobs``, ``GET /v1/jobs/{id}`` (progress) and ``GET /v1/jobs/{id}/output`` (Parquet).

The work itself lives in :mod:`embedlab.server.jobs`; this module only checks and translates.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from embedlab.server.auth import require_api_key
from embedlab.server.errors import ApiError
from embedlab.server.jobs import JobManager, resolve_data_path
from embedlab.server.state import ServerState, get_state

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["Batch jobs"])


def _jobs(state: ServerState) -> JobManager:
    if state.jobs is None:
        raise ApiError(503, "batch jobs are not running on this server", code="jobs_unavailable")
    return state.jobs


def _upload_suffix(name: str) -> str:
    from embedlab.text.readers import FORMATS

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
    normalize: Annotated[bool | None, Form(description="Default: the server's setting")] = None,
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
    served = state.find_model(model) if model else next(iter(state.models.values()))
    options: dict[str, Any] = {
        "model": served.id,
        "field": field or None,
        "id_field": id_field or None,
        "skip_empty": skip_empty,
        "normalize": state.config.normalize if normalize is None else normalize,
    }
    if file is not None:
        name = PurePath(file.filename or "upload.txt").name
        suffix = _upload_suffix(name)

        def write_input(folder: Path) -> Path:
            target = folder / f"input{suffix}"
            file.file.seek(0)
            with target.open("wb") as out:
                shutil.copyfileobj(file.file, out, 1 << 20)
            return target

        job = await asyncio.to_thread(
            jobs.create, source_kind="upload", source_name=name, write_input=write_input, **options
        )
    else:
        assert path is not None
        source = resolve_data_path(state.config.data_dir, path)
        job = await asyncio.to_thread(
            jobs.create, source_kind="data_dir", source_name=path, source=source, **options
        )
    return jobs.describe(job)


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
    summary="A finished job's Parquet file (id, text, vector)",
    response_class=FileResponse,
)
async def get_job_output(job_id: str, request: Request) -> FileResponse:
    jobs = _jobs(get_state(request))
    job = _find(jobs, job_id)
    if job.status != "succeeded":
        raise ApiError(409, f"job {job_id} is {job.status}, not finished", code="job_not_finished")
    return FileResponse(
        jobs.output_path(job),
        media_type="application/vnd.apache.parquet",
        filename=f"{job_id}.parquet",
    )
