"""What every request handler needs, in one object on ``app.state.embedlab``.

Routers read it through :func:`get_state` instead of module globals, so several apps (tests, or
``create_app`` called twice) live side by side in one process.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from embedlab.paths import cache_home
from embedlab.server.config import ServerConfig
from embedlab.server.core.batcher import Batcher
from embedlab.server.core.metrics import Metrics
from embedlab.server.core.served import ServedModel
from embedlab.server.http.auth import ApiKeys
from embedlab.server.http.errors import ApiError
from embedlab.server.http.limits import RateLimiter

if TYPE_CHECKING:
    from embedlab.server.core.jobs import JobManager


@dataclass
class ServerState:
    config: ServerConfig
    models: dict[str, ServedModel]
    lookup: dict[str, ServedModel]
    metrics: Metrics
    keys: ApiKeys
    rate_limiter: RateLimiter
    auth_failures: RateLimiter  # wrong or missing keys, per client address
    batchers: dict[str, Batcher] = field(default_factory=dict)
    jobs: JobManager | None = None
    collections: Any = None  # the collections router's own state, when the store is available
    ready: bool = False

    def find_model(self, name: str, param: str = "model") -> ServedModel:
        """The served model called ``name`` (id or alias); 404 naming what is served."""
        model = self.lookup.get(name)
        if model is None:
            close = difflib.get_close_matches(name, list(self.lookup), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ApiError(
                404,
                f"the model {name!r} is not served here.{hint} Served: {', '.join(self.models)} "
                "(GET /v1/models lists them)",
                code="model_not_found",
                param=param,
            )
        return model

    @property
    def private(self) -> list[str]:
        """The server's own folders, which error messages must not show."""
        config = self.config
        roots = [str(config.resolved_jobs_dir()), str(cache_home())]
        if config.data_dir:
            roots.append(config.data_dir)
        if config.collections and "://" not in config.collections:
            roots.append(config.collections)
        return roots

    def batcher(self, model: ServedModel) -> Batcher:
        return self.batchers[model.id]

    def token_limit(self, model: ServedModel) -> int | None:
        """Tokens per input: the configured limit, never more than the model takes."""
        limits = [n for n in (self.config.max_tokens_per_input, model.max_tokens) if n]
        return min(limits) if limits else None


def get_state(request: Request) -> ServerState:
    return request.app.state.embedlab
