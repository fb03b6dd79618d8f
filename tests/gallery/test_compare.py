"""The compare page (views.compare_page, gallery/compare.py): the ids of its address read
with their limits, what the designer may see, and why any other is not shown. All of it
from the index, with no upstream call; and Compare in the gallery's bulk bar."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.gallery import compare
from dashboard.models import IndexedResult, JobInput, TrashedResult
from tests.factories import IndexedResultFactory, InputImageFactory, JobFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]  # reads the index's rows by id

HTMX = {"HTTP_HX_REQUEST": "true"}
NUMBERS = iter(range(1, 1_000_000))


def indexed(**fields) -> IndexedResult:
    """A result in the index, made a little before the one made before it."""
    made = timezone.now() - timedelta(minutes=next(NUMBERS))
    return IndexedResultFactory(**{"created_at": made, "preview_path": "", "stock_path": "/image/1.png", **fields})


def compare_page(client, query: str):
    with responses.RequestsMock():  # no call may reach the API
        return client.get(f"{reverse('history_compare')}?{query}")


def shown_ids(response) -> list[str]:
    return [panel.card.item.id for panel in response.context["comparison"].panels]


class TestReadingTheIds:
    def test_comma_separated_in_order_without_repeats_or_blanks(self):
        asked = compare.read_ids(["b1, a2,,b1 ", "c3"])
        assert asked == compare.Asked(ids=("b1", "a2", "c3"))

    def test_at_most_four_and_how_many_were_left_out(self):
        asked = compare.read_ids(["a,b,c,d,e,f"])
        assert asked.ids == ("a", "b", "c", "d")
        assert asked.beyond == 2

    def test_a_value_that_cannot_be_an_id_is_set_aside_and_quoted_short(self):
        asked = compare.read_ids(["good_1,../etc/passwd,<b>" + "x" * 100])
        assert asked.ids == ("good_1",)
        assert asked.not_ids[0] == "../etc/passwd"
        assert len(asked.not_ids[1]) == compare.QUOTED_LENGTH

    def test_a_flood_of_values_is_read_only_so_far(self):
        asked = compare.read_ids([",".join(f"id{n}" for n in range(10_000))])
        assert asked.ids == ("id0", "id1", "id2", "id3")
        assert asked.beyond == compare.READ_AT_MOST - 4


class TestThePage:
    def test_three_results_side_by_side_in_the_order_asked_with_their_inputs(self, client, designer):
        rows = [indexed() for _ in range(3)]
        job = JobFactory(designer=designer, history_item_id=rows[1].history_item_id, status="complete")
        garment = InputImageFactory(owner=designer, original_name="red-dress.png")
        JobInput.objects.create(job=job, slot="clothes", label="Garment", image=garment)
        ids = [rows[2].history_item_id, rows[0].history_item_id, rows[1].history_item_id]

        response = compare_page(client, f"ids={','.join(ids)}")

        assert response.status_code == 200
        assert shown_ids(response) == ids
        html = response.content.decode()
        assert "Compare 3 results" in html
        assert 'alt="Garment: red-dress"' in html
        assert reverse("input_image", args=[garment.pk, "thumbnail"]) in html
        for item_id in ids:  # the images come through the dashboard's media proxy
            assert reverse("result_image", args=[item_id, "stock"]) in html

    def test_rating_style_and_date_are_shown(self, client, designer):
        liked, disliked = indexed(like=True, rating="liked"), indexed(like=False, rating="disliked")
        response = compare_page(client, f"ids={liked.history_item_id},{disliked.history_item_id}")
        html = response.content.decode()
        assert [panel.rating for panel in response.context["comparison"].panels] == ["Liked", "Disliked"]
        assert "<dt>Made</dt>" in html and "<dt>Rating</dt>" in html

    def test_an_unknown_id_is_named_and_the_others_are_shown(self, client, designer):
        row = indexed()
        other = indexed()
        response = compare_page(client, f"ids={row.history_item_id},{'f' * 24},{other.history_item_id}")
        assert shown_ids(response) == [row.history_item_id, other.history_item_id]
        html = response.content.decode()
        assert "One result asked for cannot be shown; the others are below." in html
        assert f"<code>{'f' * 24}</code>: {compare.NOT_FOUND}" in html

    def test_a_result_in_the_trash_says_so_and_who_moved_it(self, client, designer, teammate):
        row = indexed(in_trash=True)
        TrashedResult.objects.create(
            history_item_id=row.history_item_id, trashed_by=teammate, trashed_by_name="bob", trashed_at=timezone.now()
        )
        response = compare_page(client, f"ids={row.history_item_id},{indexed().history_item_id}")
        assert len(shown_ids(response)) == 1
        assert "It is in the trash (moved there by bob)." in response.content.decode()

    def test_a_teammates_result_is_shown_with_its_inputs_as_in_the_gallery(self, client, designer, teammate):
        row = indexed(made_by=teammate)
        job = JobFactory(designer=teammate, history_item_id=row.history_item_id, status="complete")
        # Private in the library, but a job's input is the team's (InputImage.visible_to).
        photo = InputImageFactory(owner=teammate, original_name="studio-model.png", private=True, in_library=True)
        JobInput.objects.create(job=job, slot="person", label="Model photo", image=photo)
        response = compare_page(client, f"ids={row.history_item_id},{indexed().history_item_id}")
        assert shown_ids(response)[0] == row.history_item_id
        assert 'alt="Model photo: studio-model"' in response.content.decode()

    def test_a_failed_result_shows_why_it_failed_without_an_image_or_rating(self, client, designer):
        failed = indexed(status="error", raw_status="failed", error_message="The garment could not be read.")
        response = compare_page(client, f"ids={failed.history_item_id},{indexed().history_item_id}")
        html = response.content.decode()
        assert "The garment could not be read." in html
        assert reverse("result_image", args=[failed.history_item_id, "stock"]) not in html
        assert response.context["comparison"].panels[0].rating == ""

    def test_more_than_four_shows_four_and_says_so(self, client, designer):
        ids = [indexed().history_item_id for _ in range(6)]
        response = compare_page(client, f"ids={','.join(ids)}")
        assert shown_ids(response) == ids[:4]
        assert "Compare shows 4 results at most: the first 4 of the 6 asked for are here." in response.content.decode()

    def test_a_single_or_no_id_asks_for_two_to_four(self, client, designer):
        response = compare_page(client, f"ids={indexed().history_item_id}")
        assert "Select 2 to 4 results in History and choose Compare" in response.content.decode()
        response = compare_page(client, "")
        assert "Select 2 to 4 results in History and choose Compare" in response.content.decode()

    def test_back_to_history_keeps_the_gallerys_filters(self, client, designer):
        ids = ",".join(indexed().history_item_id for _ in range(2))
        response = compare_page(client, f"ids={ids}&status=complete&page=2")
        assert response.context["back_url"] == f"{reverse('history')}?status=complete&page=2"

    def test_it_needs_a_login(self, client):
        response = client.get(f"{reverse('history_compare')}?ids={indexed().history_item_id}")
        assert response.status_code == 302
        assert reverse("login") in response["Location"]


class TestCompareInTheBulkBar:
    def test_two_to_four_selected_open_the_compare_page_with_the_filters(self, client, designer):
        ids = [indexed().history_item_id for _ in range(3)]
        response = client.post(f"{reverse('history_bulk')}?status=complete", {"action": "compare", "ids": ids})
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('history_compare')}?ids={','.join(ids)}&status=complete"

    def test_with_htmx_the_browser_is_sent_there(self, client, designer):
        ids = [indexed().history_item_id for _ in range(2)]
        response = client.post(reverse("history_bulk"), {"action": "compare", "ids": ids}, **HTMX)
        assert response["HX-Redirect"] == f"{reverse('history_compare')}?ids={','.join(ids)}"

    @pytest.mark.parametrize(
        ("count", "said"),
        [
            (1, "Select 2 to 4 results to compare them side by side (1 selected)."),
            (5, "Compare takes 4 results at most: 5 are selected."),
        ],
    )
    def test_one_or_more_than_four_say_why(self, client, designer, count, said):
        ids = [indexed().history_item_id for _ in range(count)]
        with responses.RequestsMock():
            response = client.post(reverse("history_bulk"), {"action": "compare", "ids": ids}, **HTMX)
        assert said in response.content.decode()
