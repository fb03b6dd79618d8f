"""/insights/ on a seeded history: every figure's numbers equal counts made here in plain
Python over the seeded rows; every bar and every linked number opens a gallery whose
total is that number; each CSV is its table; the figures follow changes to the index."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.index import services as index
from dashboard.models import IndexedResult
from tests.insights.seeding import seed
from tests.insights.tables import TableParser

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]  # aggregates and window functions


@pytest.fixture
def seeded(designer, bob):
    return [row for row in seed(designer, bob) if not row["in_trash"]]


def insights(client, query: str = ""):
    response = client.get(f"{reverse('insights')}?{query}")
    assert response.status_code == 200
    return response


def figure(response, slug: str):
    return next(each for each in response.context["figures"] if each.slug == slug)


def table_of(response, slug: str) -> dict[str, list[str]]:
    """A figure's table as drawn, by its first column."""
    return {row[0]: row[1:] for row in figure(response, slug).table.as_rows()[1:]}


def finished(row) -> bool:
    return row["status"] in ("complete", "error")


def liked(row) -> bool:
    return row["status"] == "complete" and row["rating"] == "liked"


def rated(row) -> bool:
    return row["status"] == "complete" and row["rating"] in ("liked", "disliked")


def counts(rows) -> list[str]:
    return [str(len(rows)), str(sum(map(finished, rows))), str(sum(map(rated, rows))), str(sum(map(liked, rows)))]


def grouped(rows, key) -> dict:
    groups = defaultdict(list)
    for row in rows:
        if key(row) is not None:
            groups[key(row)].append(row)
    return groups


def monday(row):
    day = row["created_at"].date()
    return day - timedelta(days=day.weekday())


class TestFiguresEqualCountsMadeIndependently:
    def test_keep_and_like_counts_by_tool_style_designer_and_week(self, client, seeded):
        page = insights(client)
        tools = grouped(seeded, lambda row: {"fashion_swap": "Fashion Swap", "furniture": "Furniture"}[row["tool"]])
        styles = grouped(seeded, lambda row: row["style_id"].capitalize() or None)
        designers = grouped(seeded, lambda row: row["made_by"].username if row["made_by"] else None)
        weeks = grouped(seeded, lambda row: f"Week of {monday(row).day} {monday(row):%b %Y}")
        for slug, groups in (
            ("keep-by-tool", tools),
            ("keep-by-style", styles),
            ("keep-by-designer", designers),
            ("keep-by-week", weeks),
        ):
            table = table_of(page, slug)
            assert set(table) == set(groups), slug
            for label, rows in groups.items():
                assert table[label][:4] == counts(rows), (slug, label)
                keep = sum(map(liked, rows)) / sum(map(finished, rows))
                assert table[label][4] == f"{keep * 100:.0f}%", (slug, label)

    def test_rates_from_fewer_than_30_results_show_a_wilson_interval_and_say_few_results(self, client, seeded):
        page = insights(client)
        weeks = table_of(page, "keep-by-week")
        few = [row for row in weeks.values() if int(row[1]) < 30]
        assert few, "the seeded weeks hold fewer than 30 finished results each"
        for row in few:
            kept, finished_count = int(row[3]), int(row[1])
            low, high = wilson(kept, finished_count)
            assert row[5:7] == [f"{low * 100:.0f}% to {high * 100:.0f}%", "few results"]
        many = table_of(page, "keep-by-tool")["Fashion Swap"]
        assert int(many[1]) >= 30 and many[5:7] == ["", ""]
        assert "few results" in page.content.decode()

    def test_wilson_interval_matches_the_published_value(self):
        # Newcombe (1998), Statistics in Medicine 17, table I: 81 of 263, 95% interval 0.2553 to 0.3662.
        from dashboard.insights.figures import wilson_interval

        low, high = wilson_interval(81, 263)
        assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)

    def test_by_input_image(self, client, seeded):
        table = {row[1]: row[2:] for row in figure(insights(client), "keep-by-input").table.as_rows()[1:]}
        from dashboard.models import InputImage

        names = dict(InputImage.objects.values_list("pk", "name"))
        uses = grouped([(image, row) for row in seeded for image in row.get("inputs", [])], lambda pair: names[pair[0]])
        assert set(table) == set(uses)
        for name, pairs in uses.items():
            rows = [row for _, row in pairs]
            disliked = sum(row["status"] == "complete" and row["rating"] == "disliked" for row in rows)
            expected = [str(len(rows)), str(sum(map(finished, rows))), str(sum(map(liked, rows))), str(disliked)]
            assert table[name][:4] == expected, name

    def test_dislike_reasons_pareto_per_tool_and_style(self, client, seeded):
        rows = figure(insights(client), "dislike-reasons").table.as_rows()[1:]
        drawn = {(by, key, reason): int(n) for by, key, reason, n, *_ in rows}
        expected = Counter()
        labels = {"fit": "Wrong fit or length", "colour": "Colour off", "artefacts": "Artefacts"}
        labels |= {"garment": "Garment distorted", "other": "Other"}
        for row in seeded:
            if row["status"] == "complete" and row["rating"] == "disliked":
                for code in row["reasons"].split():
                    expected["tool", row["tool"].replace("_", " ").title(), labels[code]] += 1
                    if row["style_id"]:
                        expected["style", row["style_id"].capitalize(), labels[code]] += 1
        assert drawn == dict(expected)
        for by, key in {(by, key) for by, key, _ in drawn}:  # Pareto: most given first, cumulative to 100%
            given = [row for row in rows if row[:2] == [by, key]]
            assert [int(row[3]) for row in given] == sorted((int(row[3]) for row in given), reverse=True)
            assert given[-1][5] == "100%"

    def test_time_to_result_and_failures_per_tool_and_week(self, client, seeded):
        rows = figure(insights(client), "time-to-result").table.as_rows()[1:]
        drawn = {(tool, week): rest for tool, week, *rest in rows}
        groups = grouped(seeded, lambda row: (row["tool"].replace("_", " ").title(), monday(row).isoformat()))
        assert set(drawn) == set(groups)
        for key, group in groups.items():
            done = [row for row in group if row["status"] == "complete"]
            times = sorted(
                (row["finished_at"] - row["created_at"]).total_seconds() for row in done if row["finished_at"]
            )
            failed = sum(row["status"] == "error" for row in group)
            assert drawn[key][:3] == [str(sum(map(finished, group))), str(len(done)), str(failed)], key
            assert drawn[key][6] == str(len(times)), key
            if times:  # nearest rank
                median, p95 = times[math.ceil(len(times) / 2) - 1], times[math.ceil(0.95 * len(times)) - 1]
                assert drawn[key][7:9] == [f"{median:.1f}", f"{p95:.1f}"], key

    def test_jobs_per_keeper_overall_and_per_tool(self, client, seeded):
        table = table_of(insights(client), "jobs-per-keeper")
        for label, rows in {
            "All tools": seeded,
            **grouped(seeded, lambda r: r["tool"].replace("_", " ").title()),
        }.items():
            keepers = sum(map(liked, rows))
            assert table[label] == [str(len(rows)), str(keepers), f"{len(rows) / keepers:.1f}"], label

    def test_the_gallery_filters_narrow_every_figure(self, client, seeded, bob):
        table = table_of(insights(client, "tool=furniture&designer=bob"), "jobs-per-keeper")
        rows = [row for row in seeded if row["tool"] == "furniture" and row["made_by"] == bob]
        assert table["All tools"][:2] == [str(len(rows)), str(sum(map(liked, rows)))]
        assert set(table) == {"All tools", "Furniture"}


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The Wilson score interval, written out from its textbook form."""
    z = 1.959964
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials), (centre + spread) / (1 + z * z / trials)


GALLERY_TOTAL = re.compile(r'data-total-count="(\d+)"')


class TestClickThrough:
    def test_every_bar_and_linked_number_opens_a_gallery_of_exactly_that_many(self, client, seeded):
        page = insights(client, "when=30d")
        links = set()
        for shown in page.context["figures"]:
            for section in shown.sections:
                links |= {(bar.href, bar.count) for row in section.rows for bar in row.bars}
            links |= {(cell.href, int(cell.text)) for row in shown.table.rows for cell in row if cell.href}
        assert len(links) > 80
        for href, count in links:
            assert href.startswith(reverse("history"))
            gallery = client.get(href)
            assert gallery.context["gallery"].total_count == count, href

    def test_a_designers_bar_counts_what_the_gallerys_designer_filter_shows(self, client, seeded, designer):
        # A result indexed before its job was recorded here has no designer yet (the next
        # record of the job gives it one): the designer filter does not show it, so
        # neither may the designer's bar count it.
        made = IndexedResult.objects.filter(made_by=designer, in_trash=False).first()
        IndexedResult.objects.filter(pk=made.pk).update(made_by=None)
        index.note_change(index.Seen(changed=[made.history_item_id]))
        page = insights(client)
        row = table_of(page, "keep-by-designer")[designer.username]
        shown = client.get(f"{reverse('history')}?designer={designer.username}")
        assert int(row[0]) == shown.context["gallery"].total_count

    def test_the_page_draws_each_bar_as_a_link_to_its_results(self, client, seeded):
        html = insights(client).content.decode()
        drawn = re.findall(r'<a class="bar-link" href="([^"]+)" data-count="(\d+)">', html)
        assert len(drawn) > 50
        href, count = drawn[0]
        assert client.get(href.replace("&amp;", "&")).context["gallery"].total_count == int(count)


class TestDownloads:
    def test_each_csv_is_exactly_its_table_on_the_page(self, client, seeded):
        query = "tool=fashion_swap"
        parser = TableParser()
        page = insights(client, query)
        parser.feed(page.content.decode())
        slugs = [each.slug for each in page.context["figures"]]
        assert len(parser.tables) == len(slugs) == 8
        for slug in slugs:
            response = client.get(f"{reverse('insights_csv', args=[slug])}?{query}")
            assert response["Content-Type"].startswith("text/csv")
            assert f'filename="insights-{slug}.csv"' in response["Content-Disposition"]
            assert list(csv.reader(io.StringIO(response.content.decode()))) == parser.tables[f"{slug}-table"], slug

    def test_an_unknown_figure_is_a_clear_404(self, client, seeded):
        response = client.get(reverse("insights_csv", args=["nothing-here"]))
        assert response.status_code == 404


class TestCache:
    def test_figures_are_counted_again_when_the_index_changes(self, client, seeded):
        before = table_of(insights(client), "jobs-per-keeper")["All tools"]
        row = IndexedResult.objects.filter(status="complete", rating="unrated", in_trash=False).first()
        IndexedResult.objects.filter(pk=row.pk).update(rating="liked")  # not through the index's services
        assert table_of(insights(client), "jobs-per-keeper")["All tools"] == before  # kept in the cache
        index.note_change(index.Seen(changed=[row.history_item_id]))  # what every change to the index ends with
        after = table_of(insights(client), "jobs-per-keeper")["All tools"]
        assert after[1] == str(int(before[1]) + 1)


class TestCost:
    def test_a_cold_page_reads_the_results_six_times_each_read_shared_by_the_figures_needing_it(self, client, seeded):
        # What a cold page costs, counted: on 100,000 results each read takes 20 to 150 ms.
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            insights(client)
        reads = [query["sql"] for query in captured.captured_queries if "dashboard_indexedresult" in query["sql"]]
        # tool and style; designer; week (and tool); input; reasons; time to result
        assert len(reads) == 6


class TestPage:
    def test_the_navigation_links_to_insights(self, client, designer):
        html = client.get(reverse("history")).content.decode()
        assert f'href="{reverse("insights")}"' in html

    def test_an_empty_history_says_so(self, client, designer):
        html = insights(client).content.decode()
        assert "No results to count here yet" in html

    def test_bad_filter_values_fall_back_to_their_defaults(self, client, seeded):
        page = insights(client, "tool=%00bad&input=x&from=2026-13-40&designer=" + "x" * 300)
        assert page.context["scope"].tool == "" and page.context["scope"].inputs == ()


class TestWeeks:
    def test_week_figures_show_the_latest_12_weeks_of_the_range(self, client, seeded):
        old = timezone.now() - timedelta(weeks=20)
        IndexedResult.objects.create(
            history_item_id="old".ljust(24, "0"),
            tool="furniture",
            status="complete",
            rating="liked",
            created_at=old,
            finished_at=old + timedelta(seconds=9),
            sort_at=old,
            seen_at=timezone.now(),
        )
        monday = old.date() - timedelta(days=old.weekday())
        page = insights(client)
        assert len(table_of(page, "keep-by-week")) <= 12
        assert f"Week of {monday.day} {monday:%b %Y}" not in table_of(page, "keep-by-week")
        assert table_of(page, "jobs-per-keeper")["Furniture"][0] == str(
            sum(r["tool"] == "furniture" for r in seeded) + 1
        )
        then = insights(client, f"from={(old - timedelta(days=1)).date()}&to={(old + timedelta(days=1)).date()}")
        assert [week[:3] for week in table_of(then, "keep-by-week").values()] == [["1", "1", "1"]]
