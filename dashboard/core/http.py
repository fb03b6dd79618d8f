"""What views know of a request: htmx's details, a 404 worded for designers, and which
addresses are safe to send a browser on to."""

from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_fragment(request: HtmxHttpRequest, target: str) -> bool:
    """htmx asks for one fragment (and not a back-button restore, which wants the page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request and request.htmx.target == target


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


def safe_next(request: HtmxHttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if is_local_path(request, target) else fallback
