"""Any OpenAI-compatible embeddings endpoint as an Embedder: OpenAI, ``embedlab serve``, vLLM,
TEI, infinity.

A remote model then works wherever a local one does (``compare``, collections, search, a part of
a hybrid). Requests carry ``batch_size`` texts each and up to ``max_concurrency`` run at once;
busy answers (429, 503, ...) and dropped connections are retried with exponential backoff,
waiting at least as long as the server's ``Retry-After`` asks. ``base64`` answers (the default)
are the raw little-endian float32 bytes, smaller than JSON floats and exact.

The API key is read from ``$OPENAI_API_KEY`` (or the variable named by ``api_key_env``) at request
time, or given as ``api_key=``; it never enters ``params``, so ``save()`` writes only the
endpoint's configuration and a saved folder can be shared.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from embedlab._version import __version__
from embedlab.embedders.base import Embedder, TokenEmbeddings
from embedlab.embedders.options import LOAD, Option, declare
from embedlab.errors import EmbedlabError, InputError, ModelFormatError, UnknownModelError
from embedlab.progress import progress_bar

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
ENCODINGS = ("base64", "float")
# Worth retrying: the server is busy, restarting or briefly failing, not refusing the request.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_WAIT_S = 60.0  # the longest single wait between attempts, whatever Retry-After says
PROBE_TEXT = "dimension probe"


class RemoteError(EmbedlabError):
    """The endpoint refused a request, answered nonsense, or could not be reached.

    ``status`` is the HTTP status (None when no answer came) and ``code`` the server's error code.
    """

    def __init__(
        self, problem: str, hint: str | None = None, *, status: int | None = None, code: Any = None
    ) -> None:
        super().__init__(problem, hint)
        self.status = status
        self.code = code


class RemoteConnectionError(RemoteError):
    """No answer: connection refused, unknown host, or a timeout, after every retry."""


class RemoteAuthError(RemoteError):
    """401/403: the API key is missing or wrong."""


class RemoteModelError(RemoteError, UnknownModelError):
    """404 for the model: the endpoint does not serve a model of that name."""


class RemoteInputError(RemoteError, InputError):
    """400/413/422: the server refused the texts or options (too long, too many, bad dimensions)."""


class RemoteEmbedder(Embedder):
    """Vectors from ``POST {base_url}/embeddings`` of an OpenAI-compatible server.

    ``dim`` comes from ``dimensions`` when given, else from the first answer (one probe request if
    ``dim`` is read before anything is embedded). ``embed()``'s ``batch_size`` is not used: the
    request size is ``batch_size`` given here, since it is bound by the server's own limits.
    """

    method: ClassVar[str] = "remote"
    # where and how to call may change on a loaded model; the remote model itself (its name and
    # dimensions) is fixed; the API key is never kept in params, so never saved or printed
    options = declare(
        Option("model", None),
        Option("base_url", DEFAULT_BASE_URL, LOAD),
        Option("api_key", None, LOAD, saved=False),
        Option("api_key_env", DEFAULT_KEY_ENV, LOAD),
        Option("dimensions", None),
        Option("batch_size", 32, LOAD),
        Option("timeout", 60.0, LOAD),
        Option("retries", 3, LOAD),
        Option("backoff", 0.5, LOAD),
        Option("max_concurrency", 4, LOAD),
        Option("encoding_format", "base64", LOAD),
    )

    def __init__(
        self,
        model: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        api_key_env: str = DEFAULT_KEY_ENV,
        dimensions: int | None = None,
        batch_size: int = 32,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_concurrency: int = 4,
        encoding_format: str = "base64",
    ) -> None:
        super().__init__(
            model=model,
            base_url=base_url,
            api_key=api_key,
            api_key_env=api_key_env,
            dimensions=dimensions,
            batch_size=batch_size,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_concurrency=max_concurrency,
            encoding_format=encoding_format,
        )
        self.name = self._default_name()
        self._dim: int | None = dimensions
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, argument: str, **params: Any) -> Self:
        """``"MODEL@BASE_URL"`` (or just ``"MODEL"`` for OpenAI), the part after ``"remote:"``.

        The model comes first because model names never hold ``@`` while URLs may
        (``http://user@host``), so the first ``@`` is the separator.
        """
        model, at, base_url = argument.partition("@")
        example = "e.g. 'remote:minilm@http://127.0.0.1:8000/v1' or 'remote:text-embedding-3-small'"
        if not model.strip() or (at and not base_url.strip()):
            raise InputError(f"the remote spec {argument!r} needs MODEL@BASE_URL", example)
        given = {"model": model.strip(), **({"base_url": base_url} if at else {})}
        for key in set(given) & set(params):
            if params[key] != given[key]:
                raise InputError(
                    f"the spec gives {key} {given[key]!r} and the options {params[key]!r}",
                    f"give the {key} once, in the spec or as {key}=",
                )
        return cls(**{**params, **given})

    # -- parameters ------------------------------------------------------------------------
    def _check_values(self, p: dict[str, Any]) -> None:
        """Refuse bad settings at construction, not on the first request."""
        if not isinstance(p["model"], str) or not p["model"].strip():
            raise InputError(
                "a remote embedder needs the model's name on the server, e.g. model='minilm'",
                "use embedlab.load('remote:MODEL@BASE_URL') or RemoteEmbedder(model, base_url)",
            )
        url = p["base_url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(
                f"base_url must be an http:// or https:// URL, got {url!r}",
                "e.g. base_url='http://127.0.0.1:8000/v1' for `embedlab serve`",
            )
        if not isinstance(p["api_key_env"], str) or not p["api_key_env"]:
            raise InputError(
                f"api_key_env must name an environment variable, got {p['api_key_env']!r}",
                f"e.g. api_key_env={DEFAULT_KEY_ENV!r}",
            )
        if p["encoding_format"] not in ENCODINGS:
            raise InputError(
                f"encoding_format must be 'base64' or 'float', got {p['encoding_format']!r}",
                "use 'base64' (smaller, exact) unless the server only speaks 'float'",
            )
        counts = {"batch_size": 1, "max_concurrency": 1, "retries": 0}
        counts |= {"dimensions": 1} if p["dimensions"] is not None else {}
        for key, low in counts.items():
            value = p[key]
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise InputError(f"{key} must be an int >= {low}, got {value!r}", f"e.g. {key}=4")
        for key in ("timeout", "backoff"):
            value = p[key]
            if isinstance(value, bool) or not isinstance(value, Real) or not float(value) >= 0:
                raise InputError(
                    f"{key} must be a number of seconds >= 0, got {value!r}", f"e.g. {key}=1"
                )
        if not p["timeout"] > 0:
            raise InputError("timeout must be more than 0 seconds", "e.g. timeout=60")

    def _default_name(self) -> str:
        return f"remote:{self.params['model']}"

    def _params_changed(self, changed: set[str]) -> None:
        if "base_url" in changed:
            self._dim = self.params["dimensions"]  # another server may serve another size
        self.close()

    @property
    def url(self) -> str:
        """Where requests go: ``{base_url}/embeddings``."""
        return self.params["base_url"].rstrip("/") + "/embeddings"

    def _key(self) -> str | None:
        return self._unsaved["api_key"] or os.environ.get(self.params["api_key_env"]) or None

    # -- the Embedder interface ------------------------------------------------------------
    @property
    def dim(self) -> int:
        if self._dim is None:
            self._request([PROBE_TEXT])  # sets self._dim
        assert self._dim is not None
        return self._dim

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._request(texts)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Send requests of ``self.params['batch_size']`` texts, up to ``max_concurrency`` at once."""

        size = self.params["batch_size"]
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        results: list[np.ndarray | None] = [None] * len(chunks)
        workers = min(self.params["max_concurrency"], len(chunks))
        with progress_bar(f"embedding with {self.name}", len(texts), enabled=progress) as advance:
            if workers == 1:
                for i, chunk in enumerate(chunks):
                    results[i] = self._request(chunk)
                    advance(len(chunk))
            else:
                pool = ThreadPoolExecutor(workers, thread_name_prefix="embedlab-remote")
                try:
                    futures = {pool.submit(self._request, c): i for i, c in enumerate(chunks)}
                    for future in as_completed(futures):
                        i = futures[future]
                        results[i] = future.result()
                        advance(len(chunks[i]))
                finally:  # on the first failure, drop the requests not yet started
                    pool.shutdown(wait=True, cancel_futures=True)
        return np.concatenate(results, axis=0)  # type: ignore[arg-type]

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        raise RemoteError(
            f"{self.name} runs on a server that returns only pooled vectors, so it has no token "
            "walkthrough",
            "use a local model for embed_tokens, e.g. embedlab.load('minilm')",
        )

    # -- HTTP ------------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        """One connection pool per embedder, shared by its worker threads (httpx is thread-safe)."""
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.params["timeout"]),
                    limits=httpx.Limits(max_connections=self.params["max_concurrency"]),
                    headers={"User-Agent": f"embedlab/{__version__}"},
                )
            return self._client

    def close(self) -> None:
        """Close the connection pool (a new one opens on the next request)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (e.g. to Ray workers) without the pool, the lock or the key: workers read the
        key from their own environment."""
        state = dict(self.__dict__)
        state.update(_client=None, _unsaved={**self._unsaved, "api_key": None})
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _request(self, texts: list[str]) -> np.ndarray:
        """One embeddings request, retried as needed; the ``(len(texts), dim)`` float32 answer."""
        body: dict[str, Any] = {
            "model": self.params["model"],
            "input": texts,
            "encoding_format": self.params["encoding_format"],
        }
        if self.params["dimensions"] is not None:
            body["dimensions"] = self.params["dimensions"]
        matrix = self._parse(self._post(body), len(texts))
        self._check_width(matrix.shape[1])
        return matrix

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        import httpx

        key = self._key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        retries = self.params["retries"]
        for attempt in range(retries + 1):
            server_wait = 0.0
            try:
                response = self._http().post(self.url, json=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt == retries:
                    raise self._connection_error(exc, attempt) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or attempt == retries:
                    raise self._http_error(response, key is not None, attempt)
                server_wait = _retry_after(response)
            backoff = self.params["backoff"] * 2**attempt * random.uniform(1.0, 1.25)
            time.sleep(min(MAX_WAIT_S, max(server_wait, backoff)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection_error(self, exc: Exception, retried: int) -> RemoteConnectionError:
        import httpx

        tries = f" (tried {retried + 1} times)" if retried else ""
        if isinstance(exc, httpx.TimeoutException):
            return RemoteConnectionError(
                f"the embeddings endpoint {self.url} did not answer within "
                f"{self.params['timeout']:g} s{tries}",
                "raise timeout=, or send fewer texts per request with a smaller batch_size=",
            )
        reason = str(exc) or type(exc).__name__
        return RemoteConnectionError(
            f"cannot reach the embeddings endpoint {self.url} ({reason}){tries}",
            "check that the server is running and that base_url is right; start a local one "
            "with `embedlab serve` (then base_url='http://127.0.0.1:8000/v1')",
        )

    def _http_error(self, response: httpx.Response, sent_key: bool, retried: int) -> RemoteError:
        """The server's own message, with a hint for what to change here."""
        status = response.status_code
        message, code = _server_message(response)
        problem = f"the embeddings endpoint {self.url} answered {status}: {message}"
        env = self.params["api_key_env"]
        if status in (401, 403):
            hint = (
                f"set ${env} to a key the server accepts, or pass api_key="
                if sent_key
                else f"no API key was sent: set ${env}, or pass api_key= (or api_key_env= to "
                "read another variable)"
            )
            return RemoteAuthError(problem, hint, status=status, code=code)
        if status == 404:
            if code == "model_not_found" or "model" in message.lower():
                return RemoteModelError(
                    problem,
                    f"use a model the server serves: GET {self.params['base_url'].rstrip('/')}"
                    "/models lists them",
                    status=status,
                    code=code,
                )
            return RemoteError(
                problem,
                "base_url must be the API root the embeddings route hangs off, usually ending "
                "in /v1 (e.g. http://127.0.0.1:8000/v1)",
                status=status,
                code=code,
            )
        if status == 413:
            hint = "the request is too big for the server: lower batch_size="
            return RemoteInputError(problem, hint, status=status, code=code)
        if status in (400, 422):
            hint = "change the texts or options the server refused (see its message)"
            return RemoteInputError(problem, hint, status=status, code=code)
        if status in RETRY_STATUSES:
            hint = (
                f"the server is busy or failing; tried {retried + 1} times: try later, or raise "
                "retries= / lower max_concurrency="
            )
            return RemoteError(problem, hint, status=status, code=code)
        return RemoteError(problem, "see the server's log", status=status, code=code)

    def _parse(self, response: httpx.Response, n: int) -> np.ndarray:
        """OpenAI's ``{"data": [{"index", "embedding"}, ...]}``, floats or base64, in input order."""
        where = f"the embeddings endpoint {self.url}"
        not_openai = "base_url must point at an OpenAI-compatible API, usually ending in /v1"
        try:
            payload = response.json()
        except ValueError:
            raise RemoteError(
                f"{where} answered with something that is not JSON: {_snippet(response.text)!r}",
                not_openai,
            ) from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) != n:
            got = f"{len(data)} embeddings" if isinstance(data, list) else _snippet(response.text)
            raise RemoteError(f"{where} sent {n} texts but got back {got}", not_openai)
        try:
            rows = sorted(data, key=lambda item: item["index"])
            vectors = [_decode(item["embedding"]) for item in rows]
            matrix = np.stack(vectors).astype(np.float32, copy=False)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise RemoteError(
                f"{where} answered with malformed embeddings ({type(exc).__name__}: {exc})",
                "try encoding_format='float' if the server's base64 differs from OpenAI's, "
                "else check the server",
            ) from None
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise RemoteError(f"{where} answered with empty embeddings", "check the server")
        return matrix

    def _check_width(self, width: int) -> None:
        """The first answer fixes ``dim``; every later one must agree."""
        asked = self.params["dimensions"]
        if asked is not None and width != asked:
            raise RemoteError(
                f"asked {self.url} for dimensions={asked} but got {width}-dimensional vectors",
                "the server or model may not support `dimensions` (TEI, older models): leave "
                "dimensions unset",
            )
        with self._lock:
            if self._dim is None:
                self._dim = width
            elif width != self._dim:
                raise RemoteError(
                    f"{self.url} now returns {width}-dimensional vectors for "
                    f"{self.params['model']!r}, but this embedder's are {self._dim}-dimensional",
                    "the server's model changed: create (or save) the RemoteEmbedder again",
                )

    # -- persistence -----------------------------------------------------------------------
    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        """Take ``dim`` from the saved config, so loading needs no request."""
        dim = meta.get("dim")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ModelFormatError(f"{folder} records no valid dim ({dim!r})", "re-save the model")
        self._dim = dim


def _decode(value: Any) -> np.ndarray:
    """A vector from JSON floats or base64 (little-endian float32, as OpenAI sends)."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
    if isinstance(value, list):
        return np.asarray(value, dtype=np.float32)
    raise TypeError(f"an embedding is a {type(value).__name__}, not a list or base64 string")


def _server_message(response: httpx.Response) -> tuple[str, Any]:
    """(message, code) from OpenAI's ``{"error": {...}}``, TEI's ``{"error": "..."}``,
    FastAPI's ``{"detail": ...}``, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"]), error.get("code") or error.get("type")
        for key in ("error", "detail", "message"):
            if body.get(key):
                return str(body[key]), body.get("error_type") or body.get("code")
    return _snippet(response.text) or response.reason_phrase, None


def _retry_after(response: httpx.Response) -> float:
    """Seconds the server asks to wait: ``retry-after-ms``, ``Retry-After`` (seconds or a date)."""
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return 0.0
        try:
            seconds = float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, seconds) if math.isfinite(seconds) else 0.0
    except (ValueError, TypeError):
        return 0.0


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
