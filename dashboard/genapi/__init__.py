"""The one door to the generation API.

Everything that knows the upstream's URLs, headers, status codes, JSON shapes and field
names lives in this package; the rest of the dashboard imports only what is named here:

- types:      the values handed out (`Tool`, `Style`, `HistoryItem`, `HistoryPage`,
              `JobCreated`, `Status`) and the typed errors (`GenApiError` and subclasses);
- parsing:    the tolerant reading of shared/api-contract.md's shapes, and id checks;
- transport:  `GenApiClient` (sessions, timeouts, retries, the seven calls) and `client()`;
- redaction:  the API key kept out of everything the upstream sends back;
- cached:     the calls as the dashboard makes them, fronted by the shared cache, which
              owns every cache key and when it is forgotten.

Views and helpers call the cached functions (`genapi.item(id)`, `genapi.history(...)`,
`genapi.set_like(...)`) and never name a cache key or import `requests`.
"""

from dashboard.genapi.cached import (
    create_job,
    delete,
    health,
    history,
    item,
    known_item,
    last_problem,
    open_result,
    result_image,
    set_like,
    style,
    style_preview,
    styles,
    tools,
)
from dashboard.genapi.parsing import ID_PATTERN, is_valid_id, validate_id
from dashboard.genapi.transport import GenApiClient, client
from dashboard.genapi.types import (
    GenApiError,
    HistoryItem,
    HistoryPage,
    InvalidId,
    JobCreated,
    NotAnImage,
    NotFound,
    PlanNotAllowed,
    RateLimited,
    ResultFile,
    Status,
    Style,
    Tool,
    TooLarge,
    UploadFile,
    UpstreamAuthError,
    UpstreamError,
    UpstreamImage,
    UpstreamRejected,
    UpstreamUnavailable,
)

__all__ = [
    "ID_PATTERN",
    "GenApiClient",
    "GenApiError",
    "HistoryItem",
    "HistoryPage",
    "InvalidId",
    "JobCreated",
    "NotAnImage",
    "NotFound",
    "PlanNotAllowed",
    "RateLimited",
    "ResultFile",
    "Status",
    "Style",
    "TooLarge",
    "Tool",
    "UploadFile",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamImage",
    "UpstreamRejected",
    "UpstreamUnavailable",
    "client",
    "create_job",
    "delete",
    "health",
    "history",
    "is_valid_id",
    "item",
    "known_item",
    "last_problem",
    "open_result",
    "result_image",
    "set_like",
    "style",
    "style_preview",
    "styles",
    "tools",
    "validate_id",
]
