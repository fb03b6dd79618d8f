from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

from dashboard import genapi


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_fragment(request: HtmxHttpRequest, target: str) -> bool:
    """htmx asks for one fragment (and not a back-button restore, which wants the page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request and request.htmx.target == target


def upstream_message(error: genapi.GenApiError) -> str:
    """The sentence a designer sees for an upstream failure."""
    if isinstance(error, genapi.RateLimited) and error.retry_after:
        seconds = max(1, round(error.retry_after))
        return f"{error.message} (try again in about {seconds} second{'s' if seconds != 1 else ''})"
    return error.message


class Gone(Http404):
    """A 404 whose message is written for designers and shown on the page."""


def is_local_path(request: HttpRequest, target: str) -> bool:
    """A path on this site. Django's own check accepts a bare "//" (it has no host), which
    browsers read as a protocol-relative address; and a word that is not a path would be
    taken by `redirect()` for a view name (NoReverseMatch, a 500 for `?next=abc`)."""
    return (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    )
