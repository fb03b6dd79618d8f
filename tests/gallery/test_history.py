"""The history gallery against a real simulator over HTTP: no stubs anywhere.

This module runs its own simulator, seeded with exactly 250 items, so page counts are
known. Tests that delete something delete only items they created themselves (directly
in the simulator or through the dashboard), and every item a test creates is removed
afterwards, so the seeded 250 stay the whole history between tests.

Pages read the index of that history: before every test the sync process has read the
simulator (`catch_up()`), as in a deployment. A test that changes the simulator directly
(creates, finishes or deletes a job there) lets the sync see the change (`catch_up()`)
before it looks at a page. A gallery page view makes no upstream call (`gallery()` fails
at any).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache

import pytest
import requests
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from dashboard.core import display
from dashboard.core.catalogue import catalogue
from dashboard.core.tokens import new as new_token
from dashboard.models import IndexedResult, Job, TrashedResult
from tests.conftest import clear_caches
from tests.support.corpus import garment_photo, person_photo
from tests.support.index import catch_up
from tests.support.simulator import SimulatorProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]

SEEDED = 250
HTMX = {"HX-Request": "true"}
GALLERY = {**HTMX, "HX-Target": "gallery"}
LIGHTBOX = {**HTMX, "HX-Target": "lightbox"}
KNOB_DEFAULTS = {
    "job_seconds": 1.0,
    "fail_rate": 0.0,
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_body": "json",
    "rate_limit": None,
}
CARD = re.compile(r'<li class="result-card status-(\w+)" id="card-([^"]+)"(.*?)</li>', re.S)


@cache
def garment_png() -> bytes:
    return garment_photo()


@cache
def person_png() -> bytes:
    return person_photo(fmt="PNG")


# --- The simulator of this module, and direct access to it ----------------------------------


@pytest.fixture(scope="module")
def simulator_for_history(tmp_path_factory):
    process = SimulatorProcess(tmp_path_factory.mktemp("history-sim"), env={"SIMULATOR_JOB_SECONDS": "1"})
    process.start()
    try:
        process.seed(SEEDED)
        yield process
    finally:
        process.stop()


class Upstream:
    """What the simulator itself says, read with its key, and items made for one test."""

    def __init__(self, process: SimulatorProcess):
        self.process = process
        self.http = requests.Session()
        self.http.headers.update(process.headers)
        self.created: list[str] = []

    def url(self, path: str) -> str:
        return f"{self.process.base_url}/{path.lstrip('/')}"

    def listing(self, page: int = 1, limit: int = 20, **params) -> dict:
        response = self.http.get(
            self.url("user/generation-history"), params={"page": page, "limit": limit, **params}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, page: int = 1, limit: int = 20, **params) -> list[str]:
        return [item["id"] for item in self.listing(page, limit, **params)["items"]]

    def total(self, **params) -> int:
        return self.listing(1, 1, **params)["total_count"]

    def all_items(self) -> list[dict]:
        items, page = [], 1
        while True:
            body = self.listing(page, 100)
            items += body["items"]
            if page >= body["pages"]:
                return items
            page += 1

    def item(self, item_id: str) -> requests.Response:
        return self.http.get(self.url(f"user/generation-history/{item_id}"), timeout=10)

    def delete(self, item_id: str) -> int:
        return self.http.delete(self.url(f"user/generation-history/{item_id}"), timeout=10).status_code

    def types(self, tool: str) -> list[dict]:
        return self.http.get(self.url("generation/generationTypes"), params={"tool": tool}, timeout=10).json()

    def create(self, *, running_for: float | None = None) -> str:
        """A new fashion_swap item, the newest of all; removed after the test."""
        if running_for:
            self.process.configure(job_seconds=running_for)
        try:
            response = self.http.post(
                self.url("generation/generate_image_v2/"),
                data={"tool": "fashion_swap"},
                files={
                    "clothes": ("c.png", garment_png(), "image/png"),
                    "person": ("p.png", person_png(), "image/png"),
                },
                timeout=30,
            )
        finally:
            if running_for:
                self.process.configure(job_seconds=KNOB_DEFAULTS["job_seconds"])
        assert response.status_code == 200, response.text
        item_id = response.json()["history_item_id"]
        self.created.append(item_id)
        return item_id

    def wait_finished(self, item_id: str, timeout: float = 10.0) -> dict:
        def finished() -> dict | None:
            body = self.item(item_id).json()
            return body if body["status"] != "pending" else None

        # The simulator has finished it; the dashboard learns it when the sync next looks
        # (`catch_up()` in a test).
        return wait_until(finished, timeout=timeout, message=f"{item_id} still pending")

    def api_requests(self) -> list[dict]:
        return self.process.requests()

    def first(self, status: str = "complete", page: int = 1, exclude: tuple[str, ...] = (), **where) -> dict:
        """The first item of a page in this status, upstream and in the index alike (a
        seeded job that ended after the sync's last read is still running in the index)."""
        for item in self.listing(page, 20)["items"]:
            if (
                item["status"] == status
                and item["id"] not in exclude
                and all(item.get(k) == v for k, v in where.items())
                and IndexedResult.objects.filter(history_item_id=item["id"], status=status).exists()
            ):
                return item
        raise AssertionError(f"no {status} item on page {page}")


@pytest.fixture
def upstream(simulator_for_history, settings):
    settings.GENAPI_BASE_URL = simulator_for_history.base_url
    settings.GENAPI_API_KEY = simulator_for_history.api_key
    sim = Upstream(simulator_for_history)
    catch_up()  # the sync process has read the seeded history, as in a deployment
    yield sim
    simulator_for_history.configure(**KNOB_DEFAULTS)
    for item_id in sim.created:
        sim.delete(item_id)  # 404 when the test already deleted it: fine
    sim.http.close()


@pytest.fixture
def designer(upstream, designer):
    """Ada, logged into `client`, with Django on this module's simulator."""
    return designer


# --- Reading pages ---------------------------------------------------------------------------


def text(response) -> str:
    return response.content.decode()


def cards(html: str) -> list[tuple[str, str, str]]:
    """(status, item id, inner html) of every card, in page order."""
    return CARD.findall(html)


def card_ids(html: str) -> list[str]:
    return [item_id for _, item_id, _ in cards(html)]


def card_html(html: str, item_id: str) -> str:
    found = [inner for _, cid, inner in cards(html) if cid == item_id]
    assert found, f"no card for {item_id}"
    return found[0]


def like_pressed(html: str) -> str:
    match = re.search(r'aria-pressed="(true|false)" data-feedback="like"', html)
    assert match, "no like button"
    return match.group(1)


@contextmanager
def no_upstream_call() -> Iterator[None]:
    """Pages read the index: any upstream call inside fails (and is counted)."""
    with responses.RequestsMock() as mock:
        yield
        assert len(mock.calls) == 0, [call.request.url for call in mock.calls]


def gallery(client, query: str = "", headers=None):
    """A gallery page view, which makes no upstream call (whatever its filters)."""
    with no_upstream_call():
        response = client.get(reverse("history") + (f"?{query}" if query else ""), headers=headers or {})
    assert response.status_code == 200
    return response


# --- The gallery -------------------------------------------------------------------------------


class TestTheGalleryPage:
    def test_twenty_cards_newest_first_with_a_preview_image_for_every_finished_one(self, client, designer, upstream):
        page = upstream.listing(1, 20)
        html = text(gallery(client))
        found = cards(html)
        assert [item_id for _, item_id, _ in found] == [item["id"] for item in page["items"]]
        statuses = {item["id"]: item["status"] for item in page["items"]}
        for status, item_id, inner in found:
            assert status == statuses[item_id]
            if status == "complete":
                assert f'src="/results/{item_id}/preview"' in inner
        assert "/stock" not in html.split('id="lightbox"')[0]
        running = [item_id for status, item_id, _ in found if status == "pending"]
        if running:  # the seeded running ones are the newest, until they finish
            assert f'hx-get="/history/poll?ids={",".join(running)}&amp;' in html
        stamps = re.findall(r'<time datetime="([^"]+)"', html)
        assert stamps == sorted(stamps, reverse=True)

    def test_numbered_pages_reflect_the_250_results_20_a_page(self, client, designer, upstream):
        assert upstream.total() == SEEDED
        html = text(gallery(client))
        assert f"{SEEDED} results · page 1 of 13" in html
        assert re.search(r'aria-current="page"><span class="visually-hidden">Page </span>1<', html)
        for number in (2, 3, 13):
            assert f'href="/history/?page={number}"' in html
        assert 'href="/history/?page=7"' not in html  # elided
        assert "page-gap" in html

    def test_the_last_page_holds_the_last_ten(self, client, designer, upstream):
        html = text(gallery(client, "page=13"))
        assert card_ids(html) == upstream.ids(13, 20)
        assert len(card_ids(html)) == 10
        assert "page 13 of 13" in html
        assert re.search(r'aria-current="page"><span class="visually-hidden">Page </span>13<', html)
        assert 'href="/history/?page=12"' in html
        assert '<a class="page-link" href="/history/"' in html  # page 1 is the plain URL

    @pytest.mark.parametrize(("limit", "pages"), [(40, 7), (100, 3)])
    def test_a_larger_page_size_shows_more_cards_on_fewer_pages(self, client, designer, upstream, limit, pages):
        html = text(gallery(client, f"limit={limit}"))
        assert card_ids(html) == upstream.ids(1, limit)
        assert len(card_ids(html)) == limit
        assert f"page 1 of {pages}" in html
        assert f'href="/history/?limit={limit}&amp;page={pages}"' in html
        assert re.search(rf'<option value="{limit}" selected>', html)

    @pytest.mark.parametrize("limit", ["7", "abc", "-1", ""])
    def test_an_invalid_page_size_falls_back_to_twenty_without_an_error(self, client, designer, upstream, limit):
        html = text(gallery(client, f"limit={limit}"))
        assert len(card_ids(html)) == 20
        assert "page 1 of 13" in html
        assert 'href="/history/?page=2"' in html
        assert "notice-error" not in html

    def test_a_page_beyond_the_last_says_so_calmly(self, client, designer, upstream):
        html = text(gallery(client, "page=99"))
        assert card_ids(html) == []
        assert "This page is empty." in html


class TestFilters:
    def test_failed_only_shows_only_failed_cards_and_keeps_the_box_checked(self, client, designer, upstream):
        expected = upstream.ids(1, 20, status="error")
        assert expected
        html = text(gallery(client, "status=error"))
        found = cards(html)
        assert [item_id for _, item_id, _ in found] == expected
        assert {status for status, _, _ in found} == {"error"}
        assert 'class="result-placeholder result-failed"' in html
        assert 'value="error" checked' in html
        assert 'value="complete" checked' not in html and 'value="pending" checked' not in html
        total = upstream.total(status="error")
        assert f"{total} result" in html

    def test_done_and_failed_together(self, client, designer, upstream):
        html = text(gallery(client, "status=complete&status=error"))
        found = cards(html)
        assert len(found) == 20
        assert {status for status, _, _ in found} <= {"complete", "error"}
        assert 'value="complete" checked' in html and 'value="error" checked' in html
        assert 'value="pending" checked' not in html
        # Page links keep the filters.
        assert "?status=complete&amp;status=error&amp;page=2" in html

    def test_a_style_shows_only_cards_of_that_style(self, client, designer, upstream):
        counts = {
            gt["id"]: (upstream.total(generation_type=gt["id"]), gt["title"]) for gt in upstream.types("fashion_swap")
        }
        type_id, (total, title) = max(counts.items(), key=lambda entry: entry[1][0])
        assert total > 0
        html = text(gallery(client, f"style={type_id}"))
        found = cards(html)
        assert [item_id for _, item_id, _ in found] == upstream.ids(1, 20, generation_type=type_id)
        assert len(found) == min(total, 20)
        for _, _, inner in found:
            assert '<span class="result-tool">Fashion Swap</span>' in inner
            assert f'<span class="visually-hidden">· </span>{title}</span>' in inner
        assert f'<option value="{type_id}" selected>{title}</option>' in html

    def test_a_hostile_style_or_status_is_ignored(self, client, designer, upstream):
        html = text(gallery(client, "style=..%2Fx&status=bogus"))
        assert len(card_ids(html)) == 20
        assert "page 1 of 13" in html


FILTERS_COUNT = re.compile(r'<span id="filters-count"[^>]*>([^<]*)</span>')
QUICK_RESET = re.compile(r'<a id="filters-reset"[^>]*>')


class TestFiltersFoldedOnAPhone:
    """The form folds behind "Filters (n)" on a phone: n is the number of filters set,
    each field once; page size and page are not filters."""

    @pytest.mark.parametrize(
        "query, label",
        [
            ("", "Filters"),
            ("limit=40&page=2", "Filters"),
            ("status=complete&status=error", "Filters (1)"),
            ("status=complete&rating=unrated&mine=1", "Filters (3)"),
            ("q=swap&tool=fashion_swap&when=7d", "Filters (3)"),
            ("when=custom", "Filters"),  # custom dates without a date hide nothing
            ("when=custom&from=2026-01-01", "Filters (1)"),
            ("style=..%2Fx&status=bogus", "Filters"),  # ignored values are no filter
        ],
    )
    def test_the_summary_counts_the_filters_in_effect(self, client, designer, upstream, query, label):
        html = text(gallery(client, query))
        assert FILTERS_COUNT.findall(html) == [label]
        assert "<summary" in html and "Skip to the results" in html
        quick_reset = QUICK_RESET.search(html).group(0)
        assert (" hidden" in quick_reset) == (label == "Filters")

    def test_a_gallery_fragment_brings_the_new_count_along(self, client, designer, upstream):
        html = text(gallery(client, "status=complete&rating=unrated", headers=GALLERY))
        assert html.lstrip().startswith('<section id="gallery"')
        counts = re.findall(r'<span id="filters-count"[^>]*hx-swap-oob="true">([^<]*)</span>', html)
        assert counts == ["Filters (2)"]
        assert 'hx-swap-oob="true"' in QUICK_RESET.search(html).group(0)


class TestHtmxFragments:
    def test_a_gallery_request_from_htmx_gets_only_the_gallery(self, client, designer, upstream):
        html = text(gallery(client, "page=2", headers=GALLERY))
        assert html.lstrip().startswith('<section id="gallery"')
        assert "<html" not in html and 'role="search"' not in html
        assert card_ids(html) == upstream.ids(2, 20)

    def test_a_history_restore_gets_the_full_page(self, client, designer, upstream):
        html = text(gallery(client, "page=2", headers={**GALLERY, "HX-History-Restore-Request": "true"}))
        assert "<html" in html and '<section id="gallery"' in html and 'role="search"' in html

    def test_another_htmx_target_gets_the_full_page(self, client, designer, upstream):
        html = text(gallery(client, headers={**HTMX, "HX-Target": "main"}))
        assert "<html" in html


class TestMadeByMe:
    def send(self, client, upstream) -> Job:
        response = client.post(
            reverse("home"),
            {
                "tool": "fashion_swap",
                "submission": new_token(),
                "clothes": SimpleUploadedFile("dress.png", garment_png(), "image/png"),
                "person": SimpleUploadedFile("model.png", person_png(), "image/png"),
            },
            headers=HTMX,
        )
        assert response.status_code == 200
        job = Job.objects.order_by("-id").first()
        upstream.created.append(job.history_item_id)
        return job

    def test_my_jobs_show_under_made_by_me_with_my_name_and_the_garment(self, client, designer, upstream):
        first = self.send(client, upstream)
        second = self.send(client, upstream)
        html = text(gallery(client, "mine=1"))
        assert card_ids(html) == [second.history_item_id, first.history_item_id]
        assert 'name="mine" value="1" checked' in html
        assert "2 results" in html
        for job in (first, second):
            garment = job.inputs.get(slot="clothes").image
            inner = card_html(html, job.history_item_id)
            assert "· ada</p>" in inner
            assert f'src="/inputs/{garment.pk}/thumbnail"' in inner
            assert client.get(f"/inputs/{garment.pk}/thumbnail").status_code == 200

    def test_made_by_me_combines_with_the_tool_and_date_filters(self, client, designer, upstream):
        job = self.send(client, upstream)
        today = timezone.localdate()
        assert card_ids(text(gallery(client, "mine=1&tool=fashion_swap&when=today"))) == [job.history_item_id]
        other_tool = next(name for name in catalogue().tools if name != "fashion_swap")
        assert card_ids(text(gallery(client, f"mine=1&tool={other_tool}"))) == []
        last_week = today - timedelta(days=7)
        assert card_ids(text(gallery(client, f"mine=1&from={last_week}&to={last_week}"))) == []

    def test_a_finished_job_of_mine_shows_its_result(self, client, designer, upstream):
        job = self.send(client, upstream)
        upstream.wait_finished(job.history_item_id)
        catch_up()  # the sync process sees it finish
        inner = card_html(text(gallery(client, "mine=1")), job.history_item_id)
        assert f'src="/results/{job.history_item_id}/preview"' in inner
        assert "Fashion Swap" in inner
        lightbox = text(client.get(reverse("history_item", args=[job.history_item_id]) + "?mine=1", headers=LIGHTBOX))
        assert "<dt>Made by</dt><dd>ada</dd>" in lightbox
        assert re.search(r"<dt>Took</dt><dd>\d+ s</dd>", lightbox)

    def test_done_and_running_filters_see_a_job_that_finished_while_nobody_watched(self, client, designer, upstream):
        job = self.send(client, upstream)
        upstream.wait_finished(job.history_item_id)  # no tray or gallery poll saw it finish:
        catch_up()  # the sync process did, by itself
        done = text(gallery(client, "mine=1&status=complete"))
        assert card_ids(done) == [job.history_item_id]
        assert cards(done)[0][0] == "complete"
        assert card_ids(text(gallery(client, "mine=1&status=pending"))) == []
        job.refresh_from_db()
        assert job.status == "complete"

    def test_another_designer_does_not_see_my_jobs_under_made_by_me(self, client, designer, upstream, teammate):
        job = self.send(client, upstream)
        client.force_login(teammate)
        mine = text(gallery(client, "mine=1"))
        assert card_ids(mine) == []
        assert "No results match these filters." in mine
        everything = text(gallery(client))
        assert "· ada</p>" in card_html(everything, job.history_item_id)

    def test_a_job_the_upstream_does_not_know_is_kept_for_the_grace_like_recent_jobs_does_then_leaves(
        self, client, designer, upstream, settings
    ):
        # One rule for "gone upstream" (jobs.not_found), applied by the sync process: a job
        # made here that the upstream answers 404 for is kept for MISSING_JOB_GRACE_SECONDS
        # (a lagging listing or replica), in "Made by me" as in the tray, then forgotten.
        job = self.send(client, upstream)
        assert upstream.delete(job.history_item_id) == 204
        settings.MISSING_JOB_GRACE_SECONDS = 120
        catch_up()
        assert card_ids(text(gallery(client, "mine=1"))) == [job.history_item_id]
        assert Job.objects.filter(pk=job.pk).exists(), "a lagging listing must not lose a billed job's record"
        settings.MISSING_JOB_GRACE_SECONDS = 0
        clear_caches()  # the not-found answer is remembered for a moment (never a bare cache.clear())
        catch_up()
        assert card_ids(text(gallery(client, "mine=1"))) == []
        assert not Job.objects.filter(pk=job.pk).exists()


# --- Acting on results ---------------------------------------------------------------------------


class TestFeedback:
    def test_a_like_shows_pressed_is_stored_upstream_and_survives_a_reload(self, client, designer, upstream):
        item = upstream.first("complete", like=None)
        item_id = item["id"]
        detail_url = reverse("history_item", args=[item_id]) + "?page=1"
        assert like_pressed(card_html(text(gallery(client)), item_id)) == "false"
        assert like_pressed(text(client.get(detail_url, headers=LIGHTBOX))) == "false"  # now cached

        response = client.post(reverse("feedback", args=[item_id]), {"like": "true"}, headers=HTMX)
        assert response.status_code == 200
        fragment = text(response)
        assert fragment.lstrip().startswith('<div class="feedback"') and "<html" not in fragment
        assert f'hx-post="/results/{item_id}/feedback"' in fragment
        assert like_pressed(fragment) == "true"
        assert upstream.item(item_id).json()["like"] is True

        assert like_pressed(card_html(text(gallery(client)), item_id)) == "true"
        assert like_pressed(text(client.get(detail_url, headers=LIGHTBOX))) == "true"

    def test_a_dislike_after_a_like_flips_both_buttons(self, client, designer, upstream):
        item_id = upstream.first("complete")["id"]
        client.post(reverse("feedback", args=[item_id]), {"like": "true"}, headers=HTMX)
        fragment = text(client.post(reverse("feedback", args=[item_id]), {"like": "false"}, headers=HTMX))
        assert like_pressed(fragment) == "false"
        assert 'aria-pressed="true" data-feedback="dislike"' in fragment
        assert upstream.item(item_id).json()["like"] is False

    def test_feedback_on_a_deleted_result_says_it_no_longer_exists(self, client, designer, upstream):
        item_id = upstream.create()
        assert upstream.delete(item_id) == 204
        fragment = text(client.post(reverse("feedback", args=[item_id]), {"like": "true"}, headers=HTMX))
        assert "This result no longer exists." in fragment


class TestDelete:
    """Deleting moves a result to the dashboard's trash: hidden at once, still upstream."""

    def test_deleting_a_card_hides_it_offers_undo_and_refills_the_grid_from_the_next_page(
        self, client, designer, upstream
    ):
        item_id = upstream.create()
        catch_up()  # the sync process has seen the new job: it heads the gallery
        before = upstream.ids(1, 20)
        assert before[0] == item_id
        next_first = upstream.ids(2, 20)[0]

        response = client.post(reverse("history_delete", args=[item_id]), headers=GALLERY)
        assert response.status_code == 200
        html = text(response)
        assert "Moved to the trash." in html
        undo = rf'<input type="hidden" name="ids" value="{item_id}">\s*<button type="submit" class="button button-small">Undo</button>'
        assert re.search(undo, html)
        assert item_id not in card_ids(html)
        assert card_ids(html) == before[1:] + [next_first]
        assert '<div id="lightbox" class="lightbox-root" hx-swap-oob="true"></div>' in html
        assert response["HX-Push-Url"] == "/history/"
        assert upstream.item(item_id).status_code == 200  # deleted upstream only when the trash is emptied
        assert TrashedResult.objects.filter(history_item_id=item_id).exists()

        undone = text(client.post(reverse("trash_restore"), {"ids": [item_id]}, headers=GALLERY))
        assert "Restored." in undone
        assert card_ids(undone)[0] == item_id
        assert not TrashedResult.objects.exists()

    def test_deleting_keeps_the_filters_of_the_page_and_its_pages_stay_full(self, client, designer, upstream):
        item_id = upstream.create()
        catch_up()  # the sync process has seen the new job
        response = client.post(reverse("history_delete", args=[item_id]) + "?limit=40&page=2", headers=GALLERY)
        html = text(response)
        assert "Moved to the trash." in html
        visible = [found for found in upstream.ids(1, 100) if found != item_id]
        assert card_ids(html) == visible[40:80]
        assert response["HX-Push-Url"] == "/history/?limit=40&page=2"
        assert f"{SEEDED} results · page 2 of 7" in html

    def test_deleting_what_is_already_gone_says_so_and_its_card_leaves(self, client, designer, upstream):
        item_id = upstream.create()
        catch_up()  # on the gallery, then deleted elsewhere before the sync noticed
        assert upstream.delete(item_id) == 204
        response = client.post(reverse("history_delete", args=[item_id]), headers=GALLERY)
        assert response.status_code == 200
        assert "It was already deleted." in text(response) and "notice-ok" in text(response)
        assert item_id not in card_ids(text(response))
        assert not TrashedResult.objects.exists()

    def test_without_htmx_a_delete_redirects_to_the_gallery_which_offers_undo(self, client, designer, upstream):
        item_id = upstream.create()
        response = client.post(reverse("history_delete", args=[item_id]) + "?status=error")
        assert response.status_code == 303 and response["Location"] == "/history/?status=error"
        page = text(client.get(response["Location"]))
        assert "Moved to the trash." in page and f'name="ids" value="{item_id}"' in page
        assert "Moved to the trash." not in text(client.get(response["Location"]))  # offered once
        response = client.post(reverse("trash_restore"), {"ids": [item_id], "next": "/history/?status=error"})
        assert response.status_code == 303 and response["Location"] == "/history/?status=error"
        assert not TrashedResult.objects.exists()

    def test_my_job_in_the_trash_is_hidden_and_forgotten_when_deleted_for_good(self, client, designer, upstream):
        job = TestMadeByMe().send(client, upstream)
        client.post(reverse("history_delete", args=[job.history_item_id]), headers=GALLERY)
        assert job.history_item_id not in card_ids(text(gallery(client, "mine=1")))
        assert Job.objects.filter(pk=job.pk).exists()
        response = client.post(reverse("trash_delete", args=[job.history_item_id]))
        assert response.status_code == 303 and response["Location"] == "/trash/"
        assert not Job.objects.filter(pk=job.pk).exists()
        assert upstream.item(job.history_item_id).status_code == 404
        assert not TrashedResult.objects.exists()


class TestBulk:
    def bulk(self, client, action: str | None, ids: list[str], query: str = ""):
        data = {"ids": ids}
        if action is not None:
            data["action"] = action
        response = client.post(reverse("history_bulk") + (f"?{query}" if query else ""), data, headers=GALLERY)
        assert response.status_code == 200
        return text(response)

    def test_a_bulk_action_that_outlasts_its_deadline_lists_what_was_not_done(
        self, client, designer, upstream, settings
    ):
        ids = [upstream.create() for _ in range(4)]
        settings.BULK_CONCURRENCY, settings.BULK_DEADLINE_SECONDS = 1, 0.5
        upstream.process.configure(latency_ms=400)  # one call at a time: at most two fit in the deadline
        try:
            html = self.bulk(client, "delete", ids)
        finally:
            upstream.process.configure(latency_ms=0)
        trashed = set(TrashedResult.objects.values_list("history_item_id", flat=True))
        late = [item_id for item_id in ids if item_id not in trashed]
        assert len(late) >= 2 and f"{len(ids) - len(late)} moved to the trash; {len(late)} failed." in html
        for item_id in late:
            assert f"<li><code>{item_id}</code>: The generation service did not answer in time. Try again.</li>" in html

    def test_liking_three_at_once(self, client, designer, upstream):
        ids = [item["id"] for item in upstream.listing(1, 20)["items"] if item["status"] == "complete"][:3]
        html = self.bulk(client, "like", ids)
        assert "3 liked." in html and "notice-ok" in html
        assert [upstream.item(item_id).json()["like"] for item_id in ids] == [True, True, True]
        for item_id in ids:
            assert like_pressed(card_html(html, item_id)) == "true"

    def test_deleting_three_at_once(self, client, designer, upstream):
        ids = [upstream.create() for _ in range(3)]
        catch_up()  # the sync process has seen the new jobs: they head the gallery
        html = self.bulk(client, "delete", ids)
        assert "3 moved to the trash." in html and "notice-ok" in html
        assert "3 moved to the trash.</p>" in html and html.count('name="ids" value="') >= 3  # one Undo for all three
        assert [upstream.item(item_id).status_code for item_id in ids] == [200, 200, 200]
        assert not set(ids) & set(card_ids(html))
        assert len(card_ids(html)) == 20
        assert set(TrashedResult.objects.values_list("history_item_id", flat=True)) == set(ids)

    def test_one_already_deleted_counts_as_done(self, client, designer, upstream):
        ids = [upstream.create() for _ in range(2)]
        assert upstream.delete(ids[0]) == 204
        html = self.bulk(client, "delete", ids)
        assert "2 moved to the trash." in html and "notice-ok" in html and "failed." not in html
        assert list(TrashedResult.objects.values_list("history_item_id", flat=True)) == [ids[1]]

    def test_when_some_fail_they_are_listed_with_the_reason_and_the_rest_stand_done(self, client, designer, upstream):
        ids = [upstream.create() for _ in range(3)]
        upstream.process.configure(rate_limit="1/60")  # the first delete to arrive passes, the rest get 429
        html = self.bulk(client, "delete", ids)
        upstream.process.configure(rate_limit=None)
        assert "1 moved to the trash; 2 failed." in html and "notice-error" in html
        (passed,) = TrashedResult.objects.values_list("history_item_id", flat=True)
        assert passed in ids and f"<code>{passed}</code>" not in html
        for item_id in set(ids) - {passed}:
            assert re.search(
                rf"<li><code>{item_id}</code>: The generation service is busy[^<]*try again in about \d+ seconds?\)</li>",
                html,
            )

    def test_a_like_on_a_hostile_or_deleted_id_fails_with_a_message_and_the_rest_stand_done(
        self, client, designer, upstream
    ):
        good = upstream.first("complete")["id"]
        gone = upstream.create()
        assert upstream.delete(gone) == 204
        upstream.process.clear_requests()
        html = self.bulk(client, "like", [good, "bad id!", gone])
        assert "1 liked; 2 failed." in html
        assert "<li><code>bad id!</code>: This item does not exist.</li>" in html
        assert f"<li><code>{gone}</code>: This item no longer exists.</li>" in html
        assert upstream.item(good).json()["like"] is True
        # Only ids the upstream could have issued reached it; the hostile one never did.
        requested = {
            r["path"].rsplit("/", 1)[-1] for r in upstream.api_requests() if "/generation-history/" in r["path"]
        }
        assert good in requested and requested <= {good, gone}
        # Control: the log holds the calls that were made, the like included.
        assert ("PATCH", f"/user/generation-history/feedback/{good}") in [
            (r["method"], r["path"]) for r in upstream.api_requests()
        ]

    def test_liking_skips_failed_and_running_results_and_says_why(self, client, designer, upstream):
        done = [item["id"] for item in upstream.listing(1, 20, status="complete")["items"][:2]]
        failed = upstream.listing(1, 20, status="error")["items"][0]
        running = upstream.create(running_for=30)
        upstream.process.clear_requests()
        html = self.bulk(client, "like", [*done, failed["id"]])
        assert "2 liked; 1 skipped: failed results cannot be rated." in html and "notice-ok" in html
        html = self.bulk(client, "dislike", [done[0], failed["id"], running])
        assert (
            "1 disliked; 2 skipped: failed results cannot be rated, running results cannot be rated until they finish."
            in html
        )

        def ratings_sent() -> list[str]:
            return [r["path"] for r in upstream.api_requests() if r["method"] == "PATCH"]

        wait_until(lambda: len(ratings_sent()) >= 3 or None, timeout=5, message="ratings not logged")
        patched = ratings_sent()
        assert sorted(patched) == sorted(f"/user/generation-history/feedback/{item_id}" for item_id in [*done, done[0]])
        assert upstream.item(failed["id"]).json()["like"] == failed["like"]

    def test_without_htmx_the_skipped_ones_are_said_on_the_page_the_redirect_leads_to(self, client, designer, upstream):
        failed = upstream.listing(1, 20, status="error")["items"][0]["id"]
        response = client.post(
            reverse("history_bulk") + "?status=error", {"action": "like", "ids": [failed]}, follow=True
        )
        assert response.redirect_chain == [("/history/?status=error", 303)]
        assert "0 liked; 1 skipped: failed results cannot be rated." in text(response)

    def test_deleting_does_not_skip_failed_or_running_results(self, client, designer, upstream):
        running = upstream.create(running_for=30)
        assert "1 moved to the trash." in self.bulk(client, "delete", [running])
        assert TrashedResult.objects.filter(history_item_id=running).exists()

    @pytest.mark.parametrize(
        ("action", "with_ids"), [("delete", False), ("like", False), ("archive", True), (None, True)]
    )
    def test_no_selection_or_an_unknown_action_changes_nothing(self, client, designer, upstream, action, with_ids):
        item_id = upstream.create()
        upstream.process.clear_requests()
        html = self.bulk(client, action, [item_id] if with_ids else [])
        assert "Select at least one result and an action." in html and "notice-error" in html
        assert [r for r in upstream.api_requests() if r["method"] != "GET"] == []
        assert upstream.item(item_id).status_code == 200
        # Control: a change asked for on purpose does show in the log.
        upstream.wait_finished(item_id)
        upstream.process.clear_requests()
        assert "1 liked." in self.bulk(client, "like", [item_id])
        assert [(r["method"], r["path"]) for r in upstream.api_requests() if r["method"] != "GET"] == [
            ("PATCH", f"/user/generation-history/feedback/{item_id}")
        ]


# --- Images ---------------------------------------------------------------------------------------


class TestResultImages:
    def test_a_preview_is_a_webp_cached_privately_for_good(self, client, designer, upstream):
        item_id = upstream.first("complete")["id"]
        response = client.get(reverse("result_image", args=[item_id, "preview"]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/webp"
        assert response.content[8:12] == b"WEBP"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "private" in response["Cache-Control"] and "max-age=31536000" in response["Cache-Control"]
        assert response["ETag"].startswith('"')

    def test_a_revalidation_is_answered_304_without_asking_upstream(self, client, designer, upstream):
        item_id = upstream.first("complete")["id"]
        url = reverse("result_image", args=[item_id, "preview"])
        etag = client.get(url)["ETag"]
        upstream.process.clear_requests()
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == etag
        assert upstream.api_requests() == []
        # A different item's etag does not match, and that image is asked for upstream.
        other = upstream.first("complete", exclude=(item_id,))["id"]
        assert (
            client.get(reverse("result_image", args=[other, "preview"]), headers={"If-None-Match": etag}).status_code
            == 200
        )
        assert any(other in r["path"] for r in upstream.api_requests())

    def test_a_second_grid_view_serves_previews_without_upstream_requests(self, client, designer, upstream):
        html = text(gallery(client))
        previews = re.findall(r'src="(/results/[^/"]+/preview)"', html)
        assert previews
        upstream.process.clear_requests()
        for url in previews:
            assert client.get(url).status_code == 200

        def image_requests() -> list[dict]:
            return [r for r in upstream.api_requests() if r["path"].startswith("/image/")]

        # Control: the first time, the images were fetched upstream (and logged). The
        # simulator logs a request after it has answered, so the last entry may trail the
        # answer by a moment: wait for it (also so it cannot land after the clear below).
        wait_until(
            lambda: len(image_requests()) >= len(previews) or None, timeout=5, message="image requests not all logged"
        )
        assert len(image_requests()) == len(previews)
        upstream.process.clear_requests()
        for url in previews:
            assert client.get(url).status_code == 200
        assert upstream.api_requests() == []

    def test_the_stock_image_is_a_png_and_downloads_with_a_readable_name(self, client, designer, upstream):
        item = upstream.first("complete")
        url = reverse("result_image", args=[item["id"], "stock"])
        stock = client.get(url)
        assert stock["Content-Type"] == "image/png" and stock.content.startswith(b"\x89PNG")
        assert "Content-Disposition" not in stock
        download = client.get(url + "?download=1")
        assert download["Content-Type"] == "image/png"
        assert re.fullmatch(
            rf'attachment; filename="{item["tool"]}-\d{{4}}-\d\d-\d\d-\d{{4}}-{item["id"]}\.png"',
            download["Content-Disposition"],
        )

    def test_a_running_or_unknown_result_gets_the_placeholder_with_404(self, client, designer, upstream):
        running = upstream.create(running_for=60)
        unknown = upstream.create()
        assert upstream.delete(unknown) == 204
        for item_id in (running, unknown):
            for kind in ("preview", "stock"):
                response = client.get(reverse("result_image", args=[item_id, kind]))
                assert response.status_code == 404
                assert response["Content-Type"] == "image/png"
                assert response.content.startswith(b"\x89PNG")
                assert response["Cache-Control"] == "no-store"
                assert "ETag" not in response

    @pytest.mark.parametrize(
        "path",
        [
            "/results/..%2F..%2Fgeneration%2Ftools/preview",
            "/results/%2E%2E/preview",
            "/results/bad%20id!/stock",
            "/results/%2E%2E%5Cgeneration%5Ctools/preview",
        ],
    )
    def test_a_hostile_id_is_404_and_never_reaches_upstream(self, client, designer, upstream, path):
        upstream.process.clear_requests()
        response = client.get(path)
        assert response.status_code == 404
        assert upstream.api_requests() == []
        # Control: a well-formed id no record has is asked about upstream (and logged).
        unknown = "0123456789abcdef01234567"
        assert client.get(reverse("result_image", args=[unknown, "preview"])).status_code == 404
        assert [r["path"] for r in upstream.api_requests()] == [f"/user/generation-history/{unknown}"]


# --- The details view --------------------------------------------------------------------------


class TestDetails:
    def test_the_details_page_shows_the_result_its_fields_and_neighbours(self, client, designer, upstream):
        page = upstream.listing(1, 20)["items"]
        index, item = next((i, it) for i, it in enumerate(page) if 0 < i < 19 and it["status"] == "complete")
        response = client.get(reverse("history_item", args=[item["id"]]) + "?page=1")
        assert response.status_code == 200
        html = text(response)
        assert "<html" in html and '<section id="gallery"' in html
        lightbox = html.split('<div id="lightbox"', 1)[1]
        assert "<dialog" in lightbox
        assert f'src="/results/{item["id"]}/stock"' in lightbox
        assert f'href="/results/{item["id"]}/stock?download=1"' in lightbox
        assert f"<dt>id</dt><dd>{item['id']}</dd>" in lightbox
        assert "<dt>status</dt><dd>complete</dd>" in lightbox
        assert "<dt>created_at</dt><dd>" in lightbox
        assert f"<dt>tool</dt><dd>{item['tool']}</dd>" in lightbox
        assert re.search(rf'href="/history/{page[index - 1]["id"]}/\??" data-nav="previous"', lightbox)
        assert re.search(rf'href="/history/{page[index + 1]["id"]}/\??" data-nav="next"', lightbox)

    def test_the_details_read_as_a_designer_speaks_with_the_raw_fields_behind_a_disclosure(
        self, client, designer, upstream
    ):
        # Older than a minute, so its age reads "... ago" (not "just now", as a seeded job
        # that finished moments ago would).
        item = next(
            it
            for it in upstream.listing(1, 20, status="complete")["items"]
            if made_at(it) < timezone.now() - timedelta(hours=1)
        )
        tool_title = next(
            t["title"]
            for t in upstream.http.get(upstream.url("generation/tools"), timeout=10).json()
            if t["tool"] == item["tool"]
        )
        html = text(client.get(reverse("history_item", args=[item["id"]]), headers=LIGHTBOX))
        details = html.split('aria-label="Details"', 1)[1]
        plain, technical = details.split('<details class="technical">', 1)
        assert f"<dt>Tool</dt><dd>{tool_title}</dd>" in plain
        made = made_at(item)
        assert re.search(
            rf'<dt>Made</dt><dd><time datetime="{re.escape(made.isoformat())}" title="{re.escape(display.exact_time(made))}">[^<]+ ago</time></dd>',
            plain,
        )
        took = round((datetime.fromisoformat(item["finished_at"].replace("Z", "+00:00")) - made).total_seconds())
        assert f"<dt>Took</dt><dd>{took} s</dd>" in plain  # the simulator takes 3 to 30 s
        assert '<dt>Made by</dt><dd><span class="muted">outside the dashboard</span></dd>' in plain
        assert "<summary>Technical details</summary>" in technical
        assert f"<dt>id</dt><dd>{item['id']}</dd>" in technical and "<dt>id</dt>" not in plain

    def test_a_failed_result_says_how_long_it_ran_before_failing(self, client, designer, upstream):
        item = upstream.listing(1, 20, status="error")["items"][0]
        html = text(client.get(reverse("history_item", args=[item["id"]]), headers=LIGHTBOX))
        assert re.search(r"<dt>Failed after</dt><dd>\d+ s</dd>", html)

    def test_next_from_the_last_of_a_page_crosses_to_the_next_page(self, client, designer, upstream):
        last = upstream.ids(1, 20)[-1]
        first_of_two = upstream.ids(2, 20)[0]
        html = text(client.get(reverse("history_item", args=[last]) + "?page=1", headers=LIGHTBOX))
        assert f'href="/history/{first_of_two}/?page=2" data-nav="next"' in html

    def test_previous_from_the_first_of_a_page_crosses_back(self, client, designer, upstream):
        last_of_one = upstream.ids(1, 20)[-1]
        first = upstream.ids(2, 20)[0]
        html = text(client.get(reverse("history_item", args=[first]) + "?page=2", headers=LIGHTBOX))
        assert re.search(rf'href="/history/{last_of_one}/\??" data-nav="previous"', html)
        assert 'data-close-url="/history/?page=2"' in html

    def test_the_newest_has_no_previous_and_the_oldest_no_next(self, client, designer, upstream):
        newest = upstream.ids(1, 20)[0]
        oldest = upstream.ids(13, 20)[-1]
        html = text(client.get(reverse("history_item", args=[newest]), headers=LIGHTBOX))
        assert 'data-nav="previous"' not in html and 'data-nav="next"' in html
        html = text(client.get(reverse("history_item", args=[oldest]) + "?page=13", headers=LIGHTBOX))
        assert 'data-nav="next"' not in html and 'data-nav="previous"' in html

    def test_a_lightbox_request_gets_only_the_lightbox(self, client, designer, upstream):
        item_id = upstream.first("complete")["id"]
        html = text(client.get(reverse("history_item", args=[item_id]) + "?page=1", headers=LIGHTBOX))
        assert html.lstrip().startswith('<div id="lightbox"')
        assert "<html" not in html and 'id="gallery"' not in html
        assert "<dialog" in html

    def test_a_failed_result_shows_its_message_instead_of_an_image(self, client, designer, upstream):
        item = next(it for it in upstream.listing(1, 20, status="error")["items"])
        html = text(client.get(reverse("history_item", args=[item["id"]]) + "?status=error", headers=LIGHTBOX))
        assert item["error"] in html
        assert f"/results/{item['id']}/stock" not in html

    @pytest.mark.parametrize("item_id", ["0123456789abcdef01234567", "bad id!"])
    def test_an_unknown_id_is_404(self, client, designer, upstream, item_id):
        assert client.get(reverse("history_item", args=[item_id])).status_code == 404

    def test_the_lightbox_makes_no_upstream_call_and_reads_a_result_not_indexed_yet_once(
        self, client, designer, upstream
    ):
        item_id = upstream.first("complete")["id"]
        with no_upstream_call():
            assert client.get(reverse("history_item", args=[item_id]), headers=LIGHTBOX).status_code == 200
        # A link to a result made elsewhere a moment ago, before the sync has seen it:
        new = upstream.create()
        upstream.wait_finished(new)
        upstream.process.clear_requests()
        html = text(client.get(reverse("history_item", args=[new]), headers=LIGHTBOX))
        assert f'src="/results/{new}/stock"' in html
        wait_until(lambda: upstream.api_requests() or None, timeout=5, message="the read was not logged")
        assert [(r["method"], r["path"]) for r in upstream.api_requests()] == [
            ("GET", f"/user/generation-history/{new}")
        ]
        with no_upstream_call():  # recorded in the index by that read
            assert client.get(reverse("history_item", args=[new]), headers=LIGHTBOX).status_code == 200


# --- Walking through results in the lightbox -------------------------------------------------


def nav_href(html: str, direction: str) -> str | None:
    match = re.search(rf'href="([^"]+)" data-nav="{direction}"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def item_of(href: str) -> str:
    return re.match(r"/history/([^/]+)/", href).group(1)


class TestLightboxKeepsTheGallerysPlace:
    def test_every_card_links_to_its_lightbox_with_the_gallerys_filters_and_page(self, client, designer, upstream):
        html = text(gallery(client, "status=error&page=2"))
        for _, item_id, inner in cards(html):
            assert f'href="/history/{item_id}/?status=error&amp;page=2"' in inner

    def test_opened_from_page_two_there_is_a_previous_on_page_two_and_across_the_edge(self, client, designer, upstream):
        first_page, second_page = upstream.ids(1, 20), upstream.ids(2, 20)
        html = text(client.get(reverse("history_item", args=[second_page[5]]) + "?page=2", headers=LIGHTBOX))
        assert nav_href(html, "previous") == f"/history/{second_page[4]}/?page=2"
        assert nav_href(html, "next") == f"/history/{second_page[6]}/?page=2"
        html = text(client.get(reverse("history_item", args=[second_page[0]]) + "?page=2", headers=LIGHTBOX))
        assert nav_href(html, "previous") == f"/history/{first_page[-1]}/"
        assert 'data-close-url="/history/?page=2"' in html

    def test_walking_failed_results_never_lands_on_another_status_and_crosses_pages_both_ways(
        self, client, designer, upstream
    ):
        failed = [item["id"] for item in upstream.all_items() if item["status"] == "error"]
        assert len(failed) > 20  # two pages of them
        walked, href = [], f"/history/{failed[0]}/?status=error"
        while href:
            html = text(client.get(href, headers=LIGHTBOX))
            walked.append(item_of(href))
            href = nav_href(html, "next")
        assert walked == failed
        assert 'data-close-url="/history/?status=error&amp;page=2"' in html
        back, href = [], nav_href(html, "previous")
        while href:
            back.append(item_of(href))
            html = text(client.get(href, headers=LIGHTBOX))
            href = nav_href(html, "previous")
        assert back == failed[-2::-1]

    def test_a_shared_link_whose_result_moved_to_another_page_still_has_neighbours(self, client, designer, upstream):
        # A new job pushes every result one place down: the last of page 1 is now the
        # first of page 2, but a link shared a minute ago still says page 1.
        old_first_page = upstream.ids(1, 20)
        upstream.create()
        catch_up()  # the sync process has seen the new job
        html = text(client.get(reverse("history_item", args=[old_first_page[-1]]), headers=LIGHTBOX))
        assert nav_href(html, "previous") == f"/history/{old_first_page[-2]}/"
        assert item_of(nav_href(html, "next")) == upstream.ids(2, 20)[1]
        assert 'data-close-url="/history/?page=2"' in html

    def test_without_javascript_the_full_page_keeps_the_filter_chips_checked(self, client, designer, upstream):
        failed = upstream.ids(2, 20, status="error")[0]
        html = text(client.get(reverse("history_item", args=[failed]) + "?status=error&page=2"))
        assert re.search(r'name="status" value="error"\s+checked', html)
        assert "<dialog" in html and 'href="/history/?status=error&amp;page=2" data-close' in html


# --- Tool and date filters, which the upstream cannot apply ------------------------------------


def made_at(item: dict) -> datetime:
    return datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))


class TestToolAndDateFilters:
    def busiest_tool(self, everything: list[dict]) -> str:
        return Counter(item["tool"] for item in everything).most_common(1)[0][0]

    def test_a_tool_shows_only_its_results_in_full_pages(self, client, designer, upstream):
        everything = upstream.all_items()
        tool = self.busiest_tool(everything)
        expected = [item["id"] for item in everything if item["tool"] == tool]
        assert len(expected) > 40
        assert card_ids(text(gallery(client, f"tool={tool}"))) == expected[:20]
        html = text(gallery(client, f"tool={tool}&page=2"))
        assert card_ids(html) == expected[20:40]
        # The filter is a query on the index: the total is exact, so is the last page.
        pages = -(-len(expected) // 20)
        assert f"{len(expected)} results · page 2 of {pages}" in html
        assert f"?tool={tool}&amp;page={pages}" in html
        assert re.search(rf'<option value="{tool}" selected>', html)

    def test_a_tool_combines_with_the_status_filter(self, client, designer, upstream):
        everything = upstream.all_items()
        tool = self.busiest_tool(everything)
        expected = [item["id"] for item in everything if item["tool"] == tool and item["status"] == "error"]
        assert expected
        assert card_ids(text(gallery(client, f"tool={tool}&status=error"))) == expected[:20]

    def test_last_seven_days_shows_only_results_made_since_then(self, client, designer, upstream):
        since = timezone.now() - timedelta(days=7)
        expected = [item["id"] for item in upstream.all_items() if made_at(item) >= since]
        html = text(gallery(client, "when=7d&limit=100"))
        assert card_ids(html) == expected[:100]
        assert re.search(r'name="when" value="7d" checked', html)

    def test_custom_dates_include_both_whole_days(self, client, designer, upstream):
        today = timezone.localdate()
        first, last = today - timedelta(days=12), today - timedelta(days=4)
        expected = [
            item["id"] for item in upstream.all_items() if first <= timezone.localtime(made_at(item)).date() <= last
        ]
        assert expected
        html = text(gallery(client, f"when=custom&from={first}&to={last}&limit=100"))
        assert card_ids(html) == expected[:100]
        assert f'value="{first}"' in html and f'value="{last}"' in html

    def test_dates_alone_mean_custom_dates_and_reversed_ones_are_put_in_order(self, client, designer, upstream):
        today = timezone.localdate()
        first, last = today - timedelta(days=12), today - timedelta(days=4)
        response = client.get(reverse("history") + f"?from={last}&to={first}", headers=GALLERY)
        assert response.headers["HX-Push-Url"] == f"/history/?when=custom&from={first}&to={last}"
        said = f"From was after To, so the dates were swapped: showing {first.day} {first:%B %Y} to {last.day} {last:%B %Y}."
        assert said in text(response)
        in_order = client.get(reverse("history") + f"?from={first}&to={last}", headers=GALLERY)
        assert "were swapped" not in text(in_order)

    def test_today_makes_no_upstream_call(self, client, designer, upstream):
        html = text(gallery(client, "when=today"))  # gallery() fails at any upstream call
        start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        assert (
            card_ids(html) == [item["id"] for item in upstream.listing(1, 100)["items"] if made_at(item) >= start][:20]
        )

    def test_a_filter_searches_the_whole_history_with_no_upstream_call(self, client, designer, upstream):
        # The gallery used to walk the upstream's listing for the filters it cannot apply,
        # a few calls at most ("Only the newest 200 results were searched"). The index
        # holds the whole history: the oldest results match too, and nothing is called.
        everything = upstream.all_items()
        tool = self.busiest_tool(everything)
        expected = [item["id"] for item in everything if item["tool"] == tool]
        assert [item for item in everything[200:] if item["tool"] == tool]  # matches beyond the newest 200
        html = text(gallery(client, f"tool={tool}&limit=100"))  # gallery() fails at any upstream call
        assert card_ids(html) == expected[:100]
        assert f"{len(expected)} results" in html
        last = -(-len(expected) // 100)
        assert card_ids(text(gallery(client, f"tool={tool}&limit=100&page={last}")))[-1] == expected[-1]
        assert "were searched" not in html

    def test_walking_the_lightbox_under_a_tool_filter_stays_on_that_tool_across_pages(self, client, designer, upstream):
        everything = upstream.all_items()
        tool = self.busiest_tool(everything)
        expected = [item["id"] for item in everything if item["tool"] == tool]
        html = text(client.get(reverse("history_item", args=[expected[19]]) + f"?tool={tool}", headers=LIGHTBOX))
        assert nav_href(html, "next") == f"/history/{expected[20]}/?tool={tool}&page=2"
        html = text(client.get(nav_href(html, "next"), headers=LIGHTBOX))
        assert nav_href(html, "previous") == f"/history/{expected[19]}/?tool={tool}"
        assert f'data-close-url="/history/?tool={tool}&amp;page=2"' in html

    @pytest.mark.parametrize("query", ["tool=../../x", "when=yesterday", "from=soon&to=later", "when=custom"])
    def test_a_hostile_or_unknown_value_is_ignored(self, client, designer, upstream, query):
        assert card_ids(text(gallery(client, query))) == upstream.ids(1, 20)


# --- Polling running cards ---------------------------------------------------------------------


class TestPoll:
    """The gallery's poll of its running cards reads the index; the sync process follows
    the statuses upstream (its cost: tests/index/test_sync.py). A poll calls nothing."""

    def poll(self, client, upstream, *ids: str):
        with no_upstream_call():
            return client.get(reverse("history_poll") + "?ids=" + ",".join(ids), headers=HTMX)

    def test_a_card_still_running_costs_no_upstream_request_and_an_empty_204(self, client, designer, upstream):
        running = upstream.create(running_for=60)
        catch_up()  # the sync process has seen the new job, running
        for _ in range(2):
            response = self.poll(client, upstream, running)
            assert response.status_code == 204  # htmx swaps nothing and polls on
            assert response.content == b""

    def test_a_finished_card_is_swapped_in_and_polling_stops(self, client, designer, upstream):
        done = upstream.first("complete")["id"]
        response = self.poll(client, upstream, done)
        assert response.status_code == 286
        html = text(response)
        assert f'id="card-{done}" data-card hx-swap-oob="true"' in html
        assert f'src="/results/{done}/preview"' in html
        assert '<div id="gallery-poller" hx-swap-oob="true" ></div>' in html

    def test_mixed_cards_cost_no_upstream_request(self, client, designer, upstream):
        running = upstream.create(running_for=60)
        catch_up()
        finished = [item["id"] for item in upstream.listing(1, 20, status="complete")["items"][:2]]
        response = self.poll(client, upstream, running, *finished)
        assert response.status_code == 200
        html = text(response)
        for item_id in finished:
            assert f'id="card-{item_id}" data-card hx-swap-oob="true"' in html
        assert f"ids={running}&amp;" in html

    def test_the_poll_after_the_sync_saw_a_card_finish_brings_it(self, client, designer, upstream):
        item_id = upstream.create(running_for=3)
        catch_up()
        assert self.poll(client, upstream, item_id).status_code == 204
        upstream.wait_finished(item_id)
        assert self.poll(client, upstream, item_id).status_code == 204  # the sync has not looked yet
        catch_up()
        response = self.poll(client, upstream, item_id)
        assert response.status_code == 286
        assert f'id="card-{item_id}" data-card hx-swap-oob="true"' in text(response)

    def test_a_job_that_finishes_before_the_first_poll_is_swapped_in(self, client, designer, upstream):
        item_id = upstream.create(running_for=3)
        catch_up()  # the page draws it running
        upstream.wait_finished(item_id)
        catch_up()  # the sync saw it finish before the page's first tick
        response = self.poll(client, upstream, item_id)
        assert response.status_code == 286
        assert f'id="card-{item_id}" data-card hx-swap-oob="true"' in text(response)

    def test_a_deleted_card_is_removed_and_polling_stops(self, client, designer, upstream):
        gone = upstream.create(running_for=60)
        catch_up()  # shown running
        assert upstream.delete(gone) == 204
        catch_up()  # the sync reads the result that left the running listing: gone
        response = self.poll(client, upstream, gone)
        assert response.status_code == 286
        assert f'hx-swap-oob="delete:#card-{gone}"' in text(response)

    def test_hostile_or_unknown_ids_cost_nothing_upstream_and_stop_polling(self, client, designer, upstream):
        response = self.poll(client, upstream, "..%2Fx", "bad id!")
        assert response.status_code == 286
        assert "hx-trigger" not in text(response)
        # A well-formed id the index does not hold is no card to keep: removed, no call.
        unknown = "0123456789abcdef01234567"
        response = self.poll(client, upstream, unknown)
        assert response.status_code == 286
        assert f'hx-swap-oob="delete:#card-{unknown}"' in text(response)
