"""The gallery, its lightbox and its polls read the index: exact totals under every filter,
neighbours across pages, search, and not one upstream call per page view."""

import re
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.gallery import history
from dashboard.index import services as index
from dashboard.models import IndexedResult, Job, Review, Run, TrashedResult
from tests.factories import IndexedResultFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]  # search: full-text on PostgreSQL


@pytest.fixture
def designer(django_user_model, client):
    user = django_user_model.objects.create_user(username="ada")
    client.force_login(user)
    return user


def indexed(number: int, **fields) -> IndexedResult:
    """The result numbered `number`, made that many hours ago."""
    made = timezone.now() - timedelta(hours=number)
    return IndexedResultFactory(
        **{"history_item_id": f"{number:024x}", "created_at": made, "preview_path": f"/image/{number}.webp", **fields}
    )


def gallery(client, query: str = ""):
    with responses.RequestsMock() as upstream:  # no call may reach the API: any would fail here
        response = client.get(f"{reverse('history')}?{query}")
        assert upstream.calls == [] or len(upstream.calls) == 0
    assert response.status_code == 200
    return response


def shown(response) -> list[str]:
    return [card.item.id for card in response.context["gallery"].cards]


class TestFilters:
    def test_every_filter_is_one_query_with_its_exact_total(self, client, designer, django_user_model):
        teammate = django_user_model.objects.create_user(username="grace")
        run = Run.objects.create(designer=designer, tool="fashion_swap", row_slot="clothes", row_label="Garment")
        for number in range(1, 61):
            indexed(
                number,
                status="error" if number % 10 == 0 else "complete",
                tool="furniture" if number % 3 == 0 else "fashion_swap",
                rating="liked" if number % 4 == 0 else ("disliked" if number % 5 == 0 else "unrated"),
                made_by=designer if number <= 12 else (teammate if number <= 20 else None),
                run=run if number <= 6 else None,
                created_at=timezone.now() - timedelta(days=number),
                sort_at=timezone.now() - timedelta(days=number),
            )
        Review.objects.create(history_item_id=f"{5:024x}", reasons=" fit ")
        IndexedResult.objects.filter(history_item_id=f"{5:024x}").update(reasons=" fit ")  # as review_changed copies it
        IndexedResult.objects.filter(history_item_id=f"{2:024x}").update(in_trash=True)
        visible = IndexedResult.objects.filter(in_trash=False)

        def cases() -> dict:
            return {
                "": visible,
                "status=error": visible.filter(status="error"),
                "tool=furniture": visible.filter(tool="furniture"),
                "mine=1": visible.filter(made_by=designer),
                # A run's every attempt (these rows have no cells: none is a current attempt).
                f"run={run.pk}&attempts=all": visible.filter(run=run),
                f"run={run.pk}": visible.none(),
                "rating=liked": visible.filter(rating="liked", status="complete"),
                "rating=disliked&reason=fit": visible.filter(history_item_id=f"{5:024x}"),
                # From the start of the minute seven days ago (a result made exactly then counts).
                "when=7d": visible.filter(
                    created_at__gte=timezone.now().replace(second=0, microsecond=0) - timedelta(days=7)
                ),
                f"when=custom&from={(timezone.localdate() - timedelta(days=25)).isoformat()}&to={(timezone.localdate() - timedelta(days=20)).isoformat()}": visible.filter(
                    created_at__date__gte=timezone.localdate() - timedelta(days=25),
                    created_at__date__lte=timezone.localdate() - timedelta(days=20),
                ),
                "tool=fashion_swap&status=complete&mine=1": visible.filter(
                    tool="fashion_swap", status="complete", made_by=designer
                ),
            }

        def this_minute():
            return timezone.now().replace(second=0, microsecond=0)

        for query in cases():
            # "Last 7 days" starts at this minute's start: a minute that turns between the
            # expectation and the page moves row 7 (made exactly 7 days ago) out of it.
            while True:
                minute = this_minute()
                expected = cases()[query]
                page = gallery(client, f"{query}&limit=100").context["gallery"]
                if this_minute() == minute:
                    break
            assert page.total_count == expected.count(), query
            assert set(shown_ids(page)) == set(expected.values_list("history_item_id", flat=True)), query

    def test_reasons_given_before_the_sync_first_read_a_result_still_find_it(self, client, designer):
        from dashboard.core.catalogue import Catalogue
        from dashboard.genapi.parsing import parse_history_item

        item_id = f"{7:024x}"
        Review.objects.create(history_item_id=item_id, reasons=" colour fit ")  # reviewed before the index existed
        raw = {"id": item_id, "status": "complete", "like": False, "generation_type": "fashion_swap"}
        index.record_seen([parse_history_item(raw)], Catalogue(tools={}, styles={}))
        with responses.RequestsMock():
            response = gallery(client, "rating=disliked&reason=colour")
        assert shown(response) == [item_id]

    def test_the_trash_never_shortens_a_page(self, client, designer):
        for number in range(1, 46):
            indexed(number)
        IndexedResult.objects.filter(history_item_id__in=[f"{n:024x}" for n in (3, 21, 22)]).update(in_trash=True)
        pages = [gallery(client, f"page={page}").context["gallery"] for page in (1, 2, 3)]
        assert [len(page.cards) for page in pages] == [20, 20, 2]
        assert pages[0].total_count == 42 and pages[0].pages == 3


def shown_ids(page) -> list[str]:
    return [card.item.id for card in page.cards]


class TestSearch:
    def test_words_find_titles_inputs_notes_runs_and_designers(self, client, designer):
        first = indexed(1, search_text="fashion swap studio white red linen dress ada run 4")
        indexed(2, search_text="furniture oak sofa grace")
        assert shown(gallery(client, "q=linen")) == [first.history_item_id]
        assert shown(gallery(client, "q=LIN")) == [first.history_item_id]  # a word's start, any case
        assert shown(gallery(client, "q=red+ada")) == [first.history_item_id]  # every word
        assert shown(gallery(client, "q=red+grace")) == []
        assert len(shown(gallery(client, "q=%00%22%27"))) == 2  # nothing to search for

    def test_the_search_words_come_from_what_the_dashboard_knows(self, designer):
        job = Job.objects.create(
            history_item_id=f"{7:024x}", designer=designer, tool="fashion_swap", tool_title="Fashion Swap"
        )
        index.record_created(job)
        Review.objects.create(history_item_id=job.history_item_id, note="Sleeves too long")
        index.review_changed(job.history_item_id)
        words = IndexedResult.objects.get().search_text
        assert "fashion swap" in words and "ada" in words and "sleeves too long" in words


class TestTheLightbox:
    def test_neighbours_across_page_edges_come_from_the_index(self, client, designer):
        for number in range(1, 51):
            indexed(number)
        filters = history.Filters(limit=20)
        around = history.neighbours(f"{21:024x}", filters, designer)
        assert around.previous == (f"{20:024x}", 1) and around.next == (f"{22:024x}", 2) and around.page == 2
        first = history.neighbours(f"{1:024x}", filters, designer)
        assert first.previous is None and first.next == (f"{2:024x}", 1)
        with responses.RequestsMock():
            page = client.get(reverse("history_item", args=[f"{21:024x}"]) + "?page=2", headers={"HX-Request": "true"})
        assert page.status_code == 200
        assert f'href="/history/{20:024x}/" data-nav="previous"' in page.content.decode()
        assert f'href="/history/{22:024x}/?page=2" data-nav="next"' in page.content.decode()

    def test_results_of_one_second_follow_the_upstream_s_order_across_a_page_edge(self, client, designer):
        # Stored as the sync meets them, the upstream's first first; the upstream lists a
        # second's results by id, highest first.
        second = timezone.now().replace(microsecond=0) - timedelta(hours=1)
        ids = [f"{number:024x}" for number in (9, 8, 7, 6, 5)]
        for item_id in ids:
            IndexedResultFactory(history_item_id=item_id, created_at=second, sort_at=second)
        assert shown(gallery(client, "limit=10")) == ids
        filters = history.Filters(limit=2)
        assert [history.neighbours(item_id, filters, designer) for item_id in ids] == [
            history.Neighbours(previous=None, next=(ids[1], 1), page=1),
            history.Neighbours(previous=(ids[0], 1), next=(ids[2], 2), page=1),
            history.Neighbours(previous=(ids[1], 1), next=(ids[3], 2), page=2),
            history.Neighbours(previous=(ids[2], 2), next=(ids[4], 3), page=2),
            history.Neighbours(previous=(ids[3], 2), next=None, page=3),
        ]

    def test_a_result_in_the_trash_still_opens_by_its_address_but_is_no_one_s_neighbour(self, client, designer):
        for number in range(1, 4):
            indexed(number)
        IndexedResult.objects.filter(history_item_id=f"{2:024x}").update(in_trash=True)
        TrashedResult.objects.create(history_item_id=f"{2:024x}", trashed_by_name="ada", trashed_at=timezone.now())
        around = history.neighbours(f"{1:024x}", history.Filters(), designer)
        assert around.next == (f"{3:024x}", 1)


class TestPolls:
    def test_a_poll_of_running_cards_reads_the_index(self, client, designer):
        running, finished = indexed(1, status="pending"), indexed(2, status="pending")
        IndexedResult.objects.filter(pk=finished.pk).update(status="complete")
        with responses.RequestsMock():
            response = client.get(
                reverse("history_poll"), {"ids": f"{running.history_item_id},{finished.history_item_id},{'f' * 24}"}
            )
        body = response.content.decode()
        assert response.status_code == 200
        assert f'id="card-{finished.history_item_id}"' in body


class TestTotals:
    def test_a_total_is_counted_once_per_change_and_any_change_counts_it_again(self, client, designer):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from dashboard.models import SyncState
        from tests.support import index as support

        SyncState.objects.create(name="history", first_sync_done=True)  # caught up: the status line counts nothing
        support.indexed(*({"id": f"{n:024x}", "status": "complete"} for n in range(1, 1031)))

        def total_and_counts(query: str = "") -> tuple[str | None, int]:
            with CaptureQueriesContext(connection) as queries:
                body = gallery(client, query).content.decode()
            counted = sum("COUNT(" in q["sql"] for q in queries.captured_queries)
            total = re.search(r"([\d,]+) results?\b", body)
            return total.group(1) if total else None, counted

        assert total_and_counts() == ("1,030", 1)
        assert total_and_counts("page=2") == ("1,030", 0)  # paging: the same total, not counted again
        index.set_in_trash([f"{4:024x}"], True)
        assert total_and_counts() == ("1,029", 1)
        support.indexed({"id": f"{5000:024x}", "status": "error"})
        assert total_and_counts() == ("1,030", 1)
        assert total_and_counts("status=error") == ("1", 1)
        assert total_and_counts("when=7d")[1] == 1
        assert total_and_counts("when=7d&page=2")[1] == 0  # within the minute the period starts in
