"""Reviewing results against the real simulator: a rating pressed again is cleared (kept
by the dashboard, as the upstream only has true or false), dislike reasons, notes, who
rated; bulk ratings set rather than toggle. Every change lands in the audit trail.
"""

from __future__ import annotations

import re

import pytest
import requests
from django.urls import reverse

from dashboard import genapi
from dashboard.models import AuditEntry, Review
from tests.support.index import catch_up
from tests.support.simulator import SimulatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}
LIGHTBOX = {**HTMX, "HX-Target": "lightbox"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with SimulatorProcess(tmp_path_factory.mktemp("reviews-sim")) as process:
        process.seed(150)
        yield process


@pytest.fixture
def upstream(seeded, settings):
    settings.GENAPI_BASE_URL = seeded.base_url
    settings.GENAPI_API_KEY = seeded.api_key
    return seeded


@pytest.fixture
def ada(ada, client, upstream):
    """Ada, with Django on this module's simulator, logged into `client`."""
    client.force_login(ada)
    return ada


def upstream_item(process, item_id: str) -> dict:
    return requests.get(
        f"{process.base_url}/user/generation-history/{item_id}", headers=process.headers, timeout=5
    ).json()


def set_upstream_like(process, item_id: str, like: bool) -> None:
    url = f"{process.base_url}/user/generation-history/feedback/{item_id}"
    assert requests.patch(url, json={"like": like}, headers=process.headers, timeout=5).status_code == 200


def unrated_ids(process) -> list[str]:
    body = requests.get(
        f"{process.base_url}/user/generation-history",
        params={"limit": 100, "status": "complete"},
        headers=process.headers,
        timeout=5,
    ).json()
    return [item["id"] for item in body["items"] if item.get("like") is None]


def pressed(html: str, name: str) -> str:
    match = re.search(rf'aria-pressed="(true|false)" data-feedback="{name}"', html)
    assert match, f"no {name} button"
    return match.group(1)


def rate(client, item_id: str, like: str, **extra) -> str:
    response = client.post(reverse("feedback", args=[item_id]), {"like": like, **extra}, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def lightbox(client, item_id: str) -> str:
    return client.get(reverse("history_item", args=[item_id]), headers=LIGHTBOX).content.decode()


def activity(html: str) -> list[str]:
    section = re.search(r'<section aria-label="Activity">(.*?)</section>', html, re.S)
    assert section, "no activity"
    lines = re.findall(r"<li[^>]*>(.*?)</li>", section.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", line).split()) for line in lines]


@pytest.fixture
def item_id(upstream):
    """A finished result nobody has rated yet (each test rates its own: the upstream
    cannot be set back to "no rating")."""
    unrated = unrated_ids(upstream)
    assert unrated, "the seeded simulator has no unrated result left"
    return unrated[0]


class TestToggle:
    def test_pressing_the_shown_like_again_clears_it_and_the_upstream_keeps_its_value(
        self, client, ada, upstream, item_id
    ):
        assert pressed(rate(client, item_id, "true"), "like") == "true"
        cleared = rate(client, item_id, "true")
        assert pressed(cleared, "like") == "false" and pressed(cleared, "dislike") == "false"
        # The upstream cannot store "no rating": it still says true, and the dashboard overrides it.
        assert upstream_item(upstream, item_id)["like"] is True
        review = Review.objects.get(history_item_id=item_id)
        assert review.cleared and review.like_when_cleared is True
        html = lightbox(client, item_id)
        assert pressed(html, "like") == "false"
        assert "Rating cleared by ada" in html
        assert activity(html)[:2] == ["ada cleared its rating · just now", "ada liked it · just now"]
        # Pressed once more, it is a like again, sent upstream.
        assert pressed(rate(client, item_id, "true"), "like") == "true"
        assert not Review.objects.get(history_item_id=item_id).cleared

    def test_pressed_again_it_clears_even_when_a_listing_put_an_older_answer_back_in_the_cache(
        self, client, ada, upstream, item_id
    ):
        from dashboard.genapi import cached

        catch_up()
        before = [item for item in genapi.history(limit=100).items if item.id == item_id]
        assert before and before[0].like is None
        assert pressed(rate(client, item_id, "true"), "like") == "true"
        # The sync's listing, asked before the like and answered after it, caches its answer.
        cached._remember(before)
        assert genapi.item(item_id).like is None
        # The designer presses the like the page shows: it clears, as on any other day.
        assert pressed(rate(client, item_id, "true"), "like") == "false"
        assert Review.objects.get(history_item_id=item_id).cleared

    def test_a_cleared_rating_yields_to_a_newer_one_made_elsewhere(self, client, ada, upstream, item_id):
        rate(client, item_id, "true")
        rate(client, item_id, "true")
        assert pressed(lightbox(client, item_id), "dislike") == "false"
        set_upstream_like(upstream, item_id, False)  # someone rated it outside the dashboard
        catch_up()  # the sync process notices it (its sweep reads every page again)
        assert pressed(lightbox(client, item_id), "dislike") == "true"

    def test_bulk_like_sets_the_like_even_when_it_is_already_shown(self, client, ada, upstream, item_id):
        rate(client, item_id, "true")
        client.post(
            reverse("history_bulk"), {"action": "like", "ids": [item_id]}, headers={**HTMX, "HX-Target": "gallery"}
        )
        assert upstream_item(upstream, item_id)["like"] is True
        assert pressed(lightbox(client, item_id), "like") == "true"
        assert not Review.objects.get(history_item_id=item_id).cleared
        assert AuditEntry.objects.filter(history_item_id=item_id, action="like", bulk=True).count() == 1

    def test_without_javascript_the_buttons_post_and_come_back(self, client, ada, upstream, item_id):
        back = reverse("history_item", args=[item_id])
        response = client.post(reverse("feedback", args=[item_id]), {"like": "false", "next": back})
        assert response.status_code == 303 and response["Location"] == back
        assert upstream_item(upstream, item_id)["like"] is False
        panel = client.get(back).content.decode().split("data-review", 1)[1]  # the lightbox's, not a card's
        assert pressed(panel, "dislike") == "true"
        assert 'name="reason" value="colour"' in panel


class TestReasonsAndNotes:
    def test_a_dislike_from_the_lightbox_opens_the_reasons(self, client, ada, upstream, item_id):
        html = lightbox(client, item_id)
        assert 'name="reason"' not in html
        panel = rate(client, item_id, "false", panel="review")
        assert panel.lstrip().startswith('<section class="review"') and "<html" not in panel
        labels = re.findall(r'data-reason-key="(\d)"><kbd aria-hidden="true">\d</kbd> ([^<]+)</button>', panel)
        assert labels == [
            ("1", "Garment distorted"),
            ("2", "Wrong fit or length"),
            ("3", "Face or body changed"),
            ("4", "Artefacts"),
            ("5", "Background or lighting"),
            ("6", "Colour off"),
            ("7", "Other"),
        ]

    def test_reasons_toggle_are_kept_shown_and_recorded_and_a_like_forgets_them(self, client, ada, upstream, item_id):
        rate(client, item_id, "false", panel="review")
        url = reverse("review", args=[item_id])
        client.post(url, {"reason": "colour"}, headers=HTMX)
        panel = client.post(url, {"reason": "fit"}, headers=HTMX).content.decode()
        assert re.search(r'aria-pressed="true" data-reason-key="2"', panel)
        assert re.search(r'aria-pressed="true" data-reason-key="6"', panel)
        assert Review.objects.get(history_item_id=item_id).reason_codes == ["fit", "colour"]
        panel = client.post(url, {"reason": "colour"}, headers=HTMX).content.decode()
        assert re.search(r'aria-pressed="false" data-reason-key="6"', panel)
        assert activity(panel)[0] == "ada gave the reasons: Wrong fit or length · just now"  # redrawn with the panel
        html = lightbox(client, item_id)
        assert activity(html)[:2] == [
            "ada gave the reasons: Wrong fit or length · just now",
            "ada gave the reasons: Wrong fit or length, Colour off · just now",
        ]
        rate(client, item_id, "true", panel="review")
        assert Review.objects.get(history_item_id=item_id).reason_codes == []

    def test_a_note_on_any_result_is_kept_shown_and_recorded(self, client, ada, upstream, item_id):
        url = reverse("review", args=[item_id])
        panel = client.post(url, {"note": "  Sleeves <too> long  "}, headers=HTMX).content.decode()
        assert "Sleeves &lt;too&gt; long</textarea>" in panel
        html = lightbox(client, item_id)
        assert "Sleeves &lt;too&gt; long</textarea>" in html
        assert activity(html)[0] == "ada wrote the note: Sleeves &lt;too&gt; long · just now"
        # Without JavaScript the form posts and comes back to the result.
        back = reverse("history_item", args=[item_id])
        response = client.post(url, {"note": "", "next": back})
        assert response.status_code == 303 and response["Location"] == back
        assert Review.objects.get(history_item_id=item_id).note == ""

    def test_reviews_of_a_result_that_does_not_exist_say_so(self, client, ada, upstream):
        url = reverse("review", args=["nosuchitem123"])
        panel = client.post(url, {"note": "x"}, headers=HTMX).content.decode()
        assert "This result no longer exists." in panel
        assert not Review.objects.exists()


CARD = re.compile(r'<li class="result-card status-(\w+)" id="card-([^"]+)"(.*?)</li>', re.S)


def gallery_cards(client, query: str) -> tuple[list[tuple[str, str, str]], object]:
    response = client.get(f"{reverse('history')}?{query}", headers={**HTMX, "HX-Target": "gallery"})
    assert response.status_code == 200
    return CARD.findall(response.content.decode()), response


class TestRatingFilters:
    @pytest.fixture(autouse=True)
    def synced(self, upstream):
        """The sync process has read the seeded history into the index the gallery filters."""
        catch_up()

    def rated(self, client, upstream) -> dict[str, str]:
        liked, colour, disliked, cleared = unrated_ids(upstream)[:4]
        rate(client, liked, "true")
        rate(client, colour, "false")
        client.post(reverse("review", args=[colour]), {"reason": "colour"}, headers=HTMX)
        rate(client, disliked, "false")
        rate(client, cleared, "true")
        rate(client, cleared, "true")
        return {"liked": liked, "colour": colour, "disliked": disliked, "cleared": cleared}

    def test_liked_disliked_unrated_and_a_reason_each_show_only_their_results(self, client, ada, upstream):
        chosen = self.rated(client, upstream)
        cards, response = gallery_cards(client, "rating=liked&limit=100")
        ids = [item_id for _, item_id, _ in cards]
        assert chosen["liked"] in ids and chosen["cleared"] not in ids and chosen["colour"] not in ids
        assert all(status == "complete" and pressed(html, "like") == "true" for status, _, html in cards)
        assert response["HX-Push-Url"] == "/history/?limit=100&rating=liked"

        cards, _ = gallery_cards(client, "rating=disliked&limit=100")
        ids = [item_id for _, item_id, _ in cards]
        assert chosen["colour"] in ids and chosen["disliked"] in ids and chosen["liked"] not in ids
        assert all(pressed(html, "dislike") == "true" for _, _, html in cards)

        cards, _ = gallery_cards(client, "reason=colour&limit=100")
        assert [item_id for _, item_id, _ in cards] == [chosen["colour"]]

        cards, _ = gallery_cards(client, "rating=unrated&limit=100")
        ids = [item_id for _, item_id, _ in cards]
        assert chosen["cleared"] in ids and chosen["liked"] not in ids and chosen["disliked"] not in ids
        assert all(status == "complete" for status, _, _ in cards)

    def test_combined_with_the_other_filters_and_pages_stay_full(self, client, ada, upstream):
        self.rated(client, upstream)
        cards, response = gallery_cards(client, "status=error&rating=liked")
        assert cards == [] and "No results match these filters." in response.content.decode()
        unrated = [item_id for _, item_id, _ in gallery_cards(client, "rating=unrated&limit=100")[0]]
        assert len(unrated) > 20
        first, _ = gallery_cards(client, "rating=unrated")
        second, _ = gallery_cards(client, "rating=unrated&page=2")
        assert [item_id for _, item_id, _ in first] == unrated[:20]
        assert [item_id for _, item_id, _ in second] == unrated[20:40]

    def test_an_unknown_rating_or_reason_in_the_url_is_ignored(self, client, ada, upstream):
        cards, response = gallery_cards(client, "rating=loved&reason=../x")
        assert len(cards) == 20 and response["HX-Push-Url"] == "/history/"

    def test_a_rating_filter_makes_no_upstream_call(self, client, ada, upstream):
        # The index answers every filter (tests/index/test_gallery_reads_the_index.py); the
        # sync process alone reads the upstream, within its budget (tests/index/test_sync.py).
        self.rated(client, upstream)
        upstream.clear_requests()
        for query in ("rating=liked", "rating=unrated", "rating=unrated&page=2", "reason=colour"):
            cards, _ = gallery_cards(client, query)
            assert cards
        assert upstream.requests() == []
