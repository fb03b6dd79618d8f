"""An open gallery's news (views.news): the results added above it since it was drawn,
counted exactly under its filters, and the cards (and the lightbox) it shows that someone
else rated, deleted or restored. All read from the index, with no upstream call."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.gallery import news
from dashboard.index import services as index
from dashboard.models import IndexedResult, TrashedResult
from tests.factories import IndexedResultFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]  # counts and filters on PostgreSQL too

HTMX = {"HTTP_HX_REQUEST": "true"}
NUMBERS = iter(range(1, 1_000_000))


def indexed(age: timedelta = timedelta(hours=1), **fields) -> IndexedResult:
    """A result in the index, made `age` ago (a new one is added after every older one)."""
    return IndexedResultFactory(created_at=timezone.now() - age, **fields)


def drawn(client, query: str = "") -> str:
    """The gallery drawn now: the address its news element asks."""
    with responses.RequestsMock():  # no call may reach the API
        response = client.get(f"{reverse('history')}?{query}")
    assert response.status_code == 200
    return response.context["news_url"]


def asked(client, news_url: str, **shown):
    """The news element's request, with what the page shows (gallery.js's parameters)."""
    path, _, query = news_url.partition("?")
    with responses.RequestsMock():
        return client.get(path, {**parse_qs(query), **shown}, HTTP_X_LIVE_REFRESH="1", **HTMX)


def notice(response) -> str:
    """The notice's words ("" without one)."""
    match = re.search(r'<p class="news-notice"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


class TestNewResults:
    def test_the_page_asks_on_the_servers_push_and_every_30_seconds_without_it(self, client, designer):
        indexed()
        with responses.RequestsMock():
            html = client.get(reverse("history"), {"status": "complete", "page": "1"}).content.decode()
        element = re.search(r'<div id="gallery-news"[^>]*>', html).group(0)
        assert 'hx-trigger="every 30s, live-refresh"' in element
        assert 'data-live="results"' in element  # every result-changed event (static/js/core.js)
        assert 'aria-live="polite"' in element
        assert "status=complete&amp;since=" in element

    def test_results_added_above_the_page_are_counted_under_its_filters(self, client, designer, teammate):
        for _ in range(3):
            indexed()
        url = drawn(client, "tool=fashion_swap&status=complete")
        assert asked(client, url).status_code == 204  # nothing new: no body

        indexed(age=timedelta(0))
        indexed(age=timedelta(0), made_by=teammate)
        indexed(age=timedelta(0), tool="room_styling")  # another tool
        indexed(age=timedelta(0), status="pending", raw_status="pending")  # still running
        indexed(age=timedelta(0), in_trash=True)  # already deleted
        response = asked(client, url)
        assert response.status_code == 200
        assert notice(response) == "2 new results · Show them"
        assert 'aria-live="polite"' not in response.content.decode()  # the region stays; only its words change

    def test_the_count_is_exact_and_said_again_only_when_it_changes(self, client, designer):
        indexed()
        url = drawn(client)
        for _ in range(3):
            indexed(age=timedelta(0))
        assert notice(asked(client, url)) == "3 new results · Show them"
        assert asked(client, url, showing="3").status_code == 204
        indexed(age=timedelta(0))
        assert notice(asked(client, url, showing="3")) == "4 new results · Show them"
        IndexedResult.objects.filter(sort_at__gt=timezone.now() - timedelta(minutes=1)).update(in_trash=True)
        response = asked(client, url, showing="4")
        assert response.status_code == 200 and notice(response) == ""  # all deleted again: the notice goes

    def test_made_by_me_counts_only_mine(self, client, designer, teammate):
        indexed(made_by=designer)
        url = drawn(client, "mine=1")
        indexed(age=timedelta(0), made_by=teammate)
        assert asked(client, url).status_code == 204
        indexed(age=timedelta(0), made_by=designer)
        assert notice(asked(client, url)) == "1 new result · Show it"

    def test_on_a_later_page_the_same_count_and_show_them_goes_to_page_one_with_the_filters(self, client, designer):
        for hours in range(1, 101):
            indexed(age=timedelta(hours=hours))
        url = drawn(client, "status=complete&limit=40&page=3")
        indexed(age=timedelta(0))
        response = asked(client, url)
        assert notice(response) == "1 new result · Show it"
        link = re.search(r'<a href="([^"]+)"[^>]*data-show-news', response.content.decode()).group(1)
        assert parse_qs(urlsplit(link.replace("&amp;", "&")).query) == {"status": ["complete"], "limit": ["40"]}

    def test_a_late_addition_just_below_the_top_counts_an_old_one_does_not(self, client, designer):
        indexed(age=timedelta(seconds=5))
        url = drawn(client)
        indexed(age=timedelta(seconds=8))  # made elsewhere just before, indexed after the page was drawn
        indexed(age=timedelta(days=40))  # an old result the sync found late
        assert notice(asked(client, url)) == "1 new result · Show it"

    def test_an_empty_gallery_counts_what_arrives(self, client, designer):
        url = drawn(client)
        indexed(age=timedelta(0))
        indexed(age=timedelta(0))
        assert notice(asked(client, url)) == "2 new results · Show them"

    def test_a_mark_that_is_not_one_is_no_news(self, client, designer):
        indexed()
        for since in ("x", "12", "-1.2", "99999999999999999999999.1"):
            response = client.get(reverse("history_news"), {"since": since}, **HTMX)
            assert response.status_code == 204


class TestCardsShown:
    def test_a_teammates_like_draws_the_card_again(self, client, designer):
        shown, other = indexed(), indexed()
        url = drawn(client)
        IndexedResult.objects.filter(pk=shown.pk).update(like=True, rating="liked")
        response = asked(client, url, card=[f"unrated:{shown.history_item_id}", f"unrated:{other.history_item_id}"])
        assert response.status_code == 200
        assert response.headers["HX-Reswap"] == "none"  # the notice has nothing new to say
        body = response.content.decode()
        assert f'id="card-{shown.history_item_id}" data-card hx-swap-oob="true"' in body
        assert f"card-{other.history_item_id}" not in body
        assert re.search(r'aria-pressed="true" data-feedback="like"', body)
        # Once the page shows it, nothing more.
        assert asked(client, url, card=[f"liked:{shown.history_item_id}"]).status_code == 204

    def test_a_teammates_delete_marks_the_card_and_a_restore_brings_it_back(self, client, designer, teammate):
        shown = indexed()
        url = drawn(client)
        TrashedResult.objects.create(
            history_item_id=shown.history_item_id,
            trashed_by=teammate,
            trashed_by_name="grace",
            trashed_at=timezone.now(),
        )
        index.set_in_trash([shown.history_item_id], True)
        body = asked(client, url, card=[f"unrated:{shown.history_item_id}"]).content.decode()
        assert f'id="card-{shown.history_item_id}" data-removed="trashed"' in body
        assert "Moved to the trash by grace." in body
        assert asked(client, url, card=[f"trashed:{shown.history_item_id}"]).status_code == 204

        index.set_in_trash([shown.history_item_id], False)
        body = asked(client, url, card=[f"trashed:{shown.history_item_id}"]).content.decode()
        assert f'id="card-{shown.history_item_id}" data-card hx-swap-oob="true"' in body

    def test_a_result_gone_for_good_says_so(self, client, designer):
        shown = indexed()
        url = drawn(client)
        index.forget([shown.history_item_id])
        body = asked(client, url, card=[f"liked:{shown.history_item_id}"]).content.decode()
        assert 'data-removed="gone"' in body and "Deleted." in body

    def test_a_running_card_has_no_rating_to_compare(self, client, designer):
        running = indexed(status="pending", raw_status="pending", like=True, rating="liked")
        url = drawn(client)
        assert asked(client, url, card=[f"unrated:{running.history_item_id}"]).status_code == 204

    def test_the_open_lightbox_gets_its_review_again(self, client, designer, teammate):
        shown = indexed()
        url = drawn(client)
        IndexedResult.objects.filter(pk=shown.pk).update(like=False, rating="disliked")
        body = asked(client, url, lightbox=f"unrated:{shown.history_item_id}").content.decode()
        assert f'<div id="lightbox-review" hx-swap-oob="innerHTML" data-item-id="{shown.history_item_id}">' in body
        assert "What is wrong?" in body  # a dislike opens its reasons
        TrashedResult.objects.create(
            history_item_id=shown.history_item_id,
            trashed_by=teammate,
            trashed_by_name="grace",
            trashed_at=timezone.now(),
        )
        index.set_in_trash([shown.history_item_id], True)
        body = asked(client, url, lightbox=f"disliked:{shown.history_item_id}").content.decode()
        assert "This result was moved to the trash by grace." in body
        assert f'data-item-id="{shown.history_item_id}"' in body  # whose news it is

    def test_what_a_page_cannot_show_is_left_out(self, client, designer):
        indexed()
        url = drawn(client)
        response = asked(client, url, card=["bogus:abc", "liked:../../etc", "liked"], lightbox="x")
        assert response.status_code == 204


def test_the_mark_reads_back_what_it_wrote():
    at = timezone.now()
    assert news.Mark.read(str(news.Mark(at, 42))) == news.Mark(at, 42)
    assert news.Mark.read(str(news.Mark(None, None))) == news.Mark(None, None)
    assert news.Mark.read("") is None
