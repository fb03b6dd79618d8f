"""The trash against the real simulator: deleted results wait there, hidden from the
gallery, until they are restored or deleted upstream (by a designer, or by
`manage.py purge_trash` after TRASH_DAYS, safely from several machines at once).
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AuditEntry, TrashedResult
from tests.support.index import catch_up
from tests.support.simulator import SimulatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}
GALLERY = {**HTMX, "HX-Target": "gallery"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with SimulatorProcess(tmp_path_factory.mktemp("trash-sim")) as process:
        process.seed(50)
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


def listing(process, limit: int = 100) -> list[str]:
    body = requests.get(
        f"{process.base_url}/user/generation-history", params={"limit": limit}, headers=process.headers, timeout=5
    ).json()
    return [item["id"] for item in body["items"]]


def exists_upstream(process, item_id: str) -> bool:
    url = f"{process.base_url}/user/generation-history/{item_id}"
    return requests.get(url, headers=process.headers, timeout=5).status_code == 200


def trash(client, *item_ids: str) -> None:
    response = client.post(reverse("history_bulk"), {"action": "delete", "ids": list(item_ids)}, headers=GALLERY)
    assert response.status_code == 200 and TrashedResult.objects.filter(history_item_id__in=item_ids).count() == len(
        item_ids
    )


def age(item_id: str, days: float) -> None:
    TrashedResult.objects.filter(history_item_id=item_id).update(trashed_at=timezone.now() - timedelta(days=days))


@pytest.mark.django_db
class TestTheTrashPage:
    def test_it_lists_what_was_deleted_and_restores_one(self, client, ada, upstream):
        first, second = listing(upstream)[-2:]
        trash(client, first, second)
        page = client.get(reverse("trash")).content.decode()
        assert f'id="trashed-{first}"' in page and f'id="trashed-{second}"' in page
        assert "Deleted by ada" in page and "Empty trash" in page
        response = client.post(reverse("trash_restore"), {"ids": [first]})
        assert response.status_code == 303 and response["Location"] == "/trash/"
        assert list(TrashedResult.objects.values_list("history_item_id", flat=True)) == [second]
        assert "Restored." in client.get("/trash/").content.decode()
        assert AuditEntry.objects.filter(history_item_id=first, action="restore", actor_name="ada").exists()

    def test_delete_forever_and_empty_delete_upstream(self, client, ada, upstream):
        one, two, three = listing(upstream)[-5:-2]
        trash(client, one, two, three)
        assert client.post(reverse("trash_delete", args=[one])).status_code == 303
        assert not exists_upstream(upstream, one) and exists_upstream(upstream, two)
        response = client.post(reverse("trash_empty"))
        assert response.status_code == 303
        assert "The trash is empty: 2 deleted for good." in client.get("/trash/").content.decode()
        assert not exists_upstream(upstream, two) and not exists_upstream(upstream, three)
        assert not TrashedResult.objects.exists()
        assert AuditEntry.objects.filter(action="delete", succeeded=True).count() == 3

    def test_when_the_upstream_fails_the_result_stays_in_the_trash(self, client, ada, upstream):
        item_id = listing(upstream)[-6]
        trash(client, item_id)
        upstream.configure(error_rate=1.0)
        try:
            client.post(reverse("trash_empty"))
        finally:
            upstream.configure(error_rate=0.0)
        assert "0 deleted for good; 1 could not be deleted." in client.get("/trash/").content.decode()
        assert TrashedResult.objects.filter(history_item_id=item_id).exists() and exists_upstream(upstream, item_id)


@pytest.mark.django_db
class TestTheGalleryFollowsTheTrash:
    """The gallery reads the index: the trash changes it at once, with no sync in between."""

    def shown(self, client) -> set[str]:
        body = client.get(reverse("history"), {"limit": 100}, headers=GALLERY).content.decode()
        return set(re.findall(r'id="card-([^"]+)"', body))

    def test_a_trashed_result_leaves_the_gallery_at_once_and_comes_back_when_restored(self, client, ada, upstream):
        catch_up()  # the sync process has read the history into the index
        kept, gone = listing(upstream)[:2]
        assert {kept, gone} <= self.shown(client)
        trash(client, kept, gone)
        assert not {kept, gone} & self.shown(client)
        client.post(reverse("trash_restore"), {"ids": [kept]})
        client.post(reverse("trash_delete", args=[gone]))
        assert kept in self.shown(client) and gone not in self.shown(client)
        catch_up()  # the next sync brings nothing back: the one deleted for good is gone upstream
        assert kept in self.shown(client) and gone not in self.shown(client)


@pytest.mark.django_db
class TestPurgeTrash:
    def test_only_results_older_than_trash_days_are_deleted_upstream(self, client, ada, upstream, settings):
        settings.TRASH_DAYS = 30
        old, recent = listing(upstream)[-8:-6]
        trash(client, old, recent)
        age(old, 31)
        age(recent, 29)
        out = StringIO()
        call_command("purge_trash", stdout=out)
        assert out.getvalue() == "Deleted 1 result from the trash.\n"
        assert not exists_upstream(upstream, old) and exists_upstream(upstream, recent)
        assert list(TrashedResult.objects.values_list("history_item_id", flat=True)) == [recent]
        entry = AuditEntry.objects.get(history_item_id=old, action="delete")
        assert entry.actor is None and entry.actor_name == "the trash clean-up"

    def test_a_result_the_upstream_will_not_delete_stays_for_the_next_run(self, client, ada, upstream):
        item_id = listing(upstream)[-10]
        trash(client, item_id)
        age(item_id, 400)
        out, err = StringIO(), StringIO()
        upstream.configure(error_rate=1.0)
        try:
            call_command("purge_trash", stdout=out, stderr=err)
        finally:
            upstream.configure(error_rate=0.0)
        assert out.getvalue() == "Deleted 0 results from the trash.\n"
        assert err.getvalue().startswith(f"Could not delete {item_id}: ")
        assert TrashedResult.objects.filter(history_item_id=item_id).exists() and exists_upstream(upstream, item_id)
        call_command("purge_trash", "--older-than-days", "1", stdout=out)
        assert not exists_upstream(upstream, item_id)


@pytest.mark.django_db(transaction=True)
class TestPurgeOnSeveralMachines:
    def test_a_result_another_run_is_deleting_is_skipped_not_waited_for(self, bob, client, upstream):
        client.force_login(bob)
        item_id = listing(upstream)[-9]
        trash(client, item_id)
        age(item_id, 400)
        locked, release = threading.Event(), threading.Event()

        def other_run_holding_the_row():
            try:
                with transaction.atomic():
                    TrashedResult.objects.select_for_update().get(history_item_id=item_id)
                    locked.set()
                    release.wait(10)
            finally:
                connection.close()

        holder = threading.Thread(target=other_run_holding_the_row)
        holder.start()
        assert locked.wait(10)
        try:
            if connection.features.has_select_for_update_skip_locked:
                out = StringIO()
                call_command("purge_trash", stdout=out)
                assert out.getvalue() == "Deleted 0 results from the trash.\n"
                assert exists_upstream(upstream, item_id)
        finally:
            release.set()
            holder.join()
        # Once the other run is done (here: it let go), the next run deletes it.
        call_command("purge_trash", stdout=StringIO())
        assert not exists_upstream(upstream, item_id)
        assert not TrashedResult.objects.exists()
