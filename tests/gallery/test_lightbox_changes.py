"""Changes made in the History lightbox keep the designer in it: Run again shows the new
job there (running, then done), and Delete moves on to the next result with the Undo in
the dialog. The upstream stubbed by `responses`; a real database and real files."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.core.tokens import new as new_token
from dashboard.models import IndexedResult, Job, JobInput, TrashedResult
from tests.factories import InputImageFactory
from tests.generate.test_page import API, JOB_URL, api  # noqa: F401 (api is a fixture)
from tests.support.index import indexed

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

HTMX = {"HX-Request": "true"}
IDS = [f"{n:024x}" for n in range(0xA1, 0xA6)]  # newest first: IDS[0] tops the gallery
NEW_JOB = "b" * 24


def item_json(item_id: str, *, status: str = "complete", minute: int = 0) -> dict:
    return {
        "id": item_id,
        "generation_type": "fashion_swap",
        "status": status,
        "created_at": f"2026-11-30T10:{minute:02d}:00Z",
        "preview_url": f"/image/generation_result/{item_id}.webp",
        "stock_url": f"/image/generation_result/{item_id}.png" if status == "complete" else None,
    }


@pytest.fixture
def five_results(api):
    """Five finished results in the index, IDS[0] the newest; each readable upstream."""
    indexed(*(item_json(item_id, minute=50 - position) for position, item_id in enumerate(IDS)))
    for item_id in IDS:
        api.get(f"{API}/user/generation-history/{item_id}", json=item_json(item_id))
    return IDS


def made_by(designer, item_id: str, **image_fields) -> Job:
    """The dashboard's record of the job that made `item_id`: a garment and a model photo."""
    job = Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap")
    garment = InputImageFactory(owner=designer, kind="clothes", in_library=True, stored=True)
    model = InputImageFactory(owner=designer, kind="person", in_library=True, stored=True, **image_fields)
    JobInput.objects.create(job=job, image=garment, slot="clothes", label="Garment", position=0)
    JobInput.objects.create(job=job, image=model, slot="person", label="Model photo", position=1)
    return job


def dialog_of(html: str) -> str:
    match = re.search(r"<dialog class=\"lightbox\".*?</dialog>", html, re.S)
    assert match, "no lightbox"
    return match.group(0)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def job_posts(api) -> list:
    return [call for call in api.calls if call.request.method == "POST"]


class TestRunAgainInTheLightbox:
    def rerun(self, client, item_id: str, htmx: bool = True, query: str = "status=complete"):
        headers = {**HTMX, "HX-Target": "lightbox-reruns"} if htmx else {}
        url = reverse("history_rerun", args=[item_id]) + f"?{query}"
        return client.post(url, {"submission": new_token()}, headers=headers)

    def test_the_new_job_shows_running_in_the_lightbox_with_a_fresh_token(self, client, designer, api, five_results):
        made_by(designer, IDS[2])
        api.post(JOB_URL, json={"history_item_id": NEW_JOB})
        response = self.rerun(client, IDS[2])
        html = response.content.decode()

        assert response.status_code == 200 and len(job_posts(api)) == 1
        section = re.search(r'<section id="lightbox-reruns".*?</section>', html, re.S).group(0)
        assert "Sent again: the new result shows here." in text(section)
        assert f'id="rerun-{NEW_JOB}"' in section and "Running" in text(section)
        # It follows the new job (push, else every 2 s) by asking the lightbox's own address.
        assert f'hx-get="/history/{IDS[2]}/?status=complete&amp;running={NEW_JOB}"' in section
        assert f'data-live-ids="{NEW_JOB}"' in section
        assert re.search(
            r'<input type="hidden" name="submission" value="[\w-]+" id="rerun-token" hx-swap-oob="true">', html
        )
        assert "<dialog" not in html  # the lightbox stays as it is: the review goes on
        assert IndexedResult.objects.get(history_item_id=NEW_JOB).status == "pending"

    def test_the_poll_is_empty_while_it_runs_and_draws_the_result_once_done(self, client, designer, api, five_results):
        made_by(designer, IDS[2])
        api.post(JOB_URL, json={"history_item_id": NEW_JOB})
        self.rerun(client, IDS[2])
        poll = reverse("history_item", args=[IDS[2]]) + f"?status=complete&running={NEW_JOB}"
        headers = {**HTMX, "HX-Target": "lightbox-reruns"}
        assert client.get(poll, headers=headers).status_code == 204

        indexed(item_json(NEW_JOB, minute=59))  # the sync saw it finish
        html = client.get(poll, headers=headers).content.decode()
        assert f'<img src="/results/{NEW_JOB}/preview"' in html
        assert "The result run again is done." in html
        assert "hx-trigger" not in html  # nothing runs: it stops asking

    def test_a_teammates_private_photo_is_refused_in_the_lightbox_and_nothing_is_sent(
        self, client, designer, api, five_results, bob
    ):
        made_by(bob, IDS[2], private=True)
        html = self.rerun(client, IDS[2]).content.decode()
        assert job_posts(api) == []
        alert = re.search(r'<p class="lightbox-note notice-error" role="alert"[^>]*>(.*?)</p>', html, re.S).group(1)
        assert "Nothing was sent: the model photo of this job is not available to you" in alert

    def test_an_upstream_failure_is_said_in_the_lightbox_and_the_same_press_may_be_tried_again(
        self, client, designer, api, five_results
    ):
        made_by(designer, IDS[2])
        api.post(JOB_URL, status=503, json={"detail": "down"})
        token = new_token()
        url = reverse("history_rerun", args=[IDS[2]])
        headers = {**HTMX, "HX-Target": "lightbox-reruns"}
        html = client.post(url, {"submission": token}, headers=headers).content.decode()
        assert "Could not run it again:" in text(html) and 'role="alert"' in html

        api.replace("POST", JOB_URL, json={"history_item_id": NEW_JOB})
        html = client.post(url, {"submission": token}, headers=headers).content.decode()
        assert f'id="rerun-{NEW_JOB}"' in html

    def test_without_javascript_the_post_leads_back_to_the_lightbox_which_shows_the_new_job(
        self, client, designer, api, five_results
    ):
        made_by(designer, IDS[2])
        api.post(JOB_URL, json={"history_item_id": NEW_JOB})
        response = self.rerun(client, IDS[2], htmx=False)
        assert response.status_code == 303
        assert response["Location"] == f"/history/{IDS[2]}/?status=complete"

        dialog = dialog_of(client.get(response["Location"]).content.decode())
        assert "Sent again: the new result shows here." in text(dialog)
        assert f'id="rerun-{NEW_JOB}"' in dialog
        # Said once: a reload does not say it again.
        assert "Sent again" not in client.get(response["Location"]).content.decode()

    def test_the_lightbox_lists_the_results_run_again_from_it_and_only_those(self, client, designer, api, five_results):
        made_by(designer, IDS[2])
        api.post(JOB_URL, json={"history_item_id": NEW_JOB})
        self.rerun(client, IDS[2])
        lightbox = {**HTMX, "HX-Target": "lightbox"}
        shown = client.get(reverse("history_item", args=[IDS[2]]), headers=lightbox).content.decode()
        other = client.get(reverse("history_item", args=[IDS[3]]), headers=lightbox).content.decode()
        assert f'id="rerun-{NEW_JOB}"' in shown
        assert "rerun-" not in other and '<section id="lightbox-reruns" class="lightbox-reruns"></section>' in other


class TestDeleteInTheLightbox:
    def delete(self, client, item_id: str, htmx: bool = True, query: str = ""):
        headers = {**HTMX, "HX-Target": "gallery"} if htmx else {}
        url = reverse("history_delete", args=[item_id]) + (f"?{query}" if query else "")
        return client.post(url, {"shown_in": "lightbox", "title": "Fashion Swap"}, headers=headers)

    def test_it_moves_on_to_the_next_result_with_the_undo_in_the_dialog(self, client, designer, api, five_results):
        response = self.delete(client, IDS[2])
        html = response.content.decode()

        assert TrashedResult.objects.filter(history_item_id=IDS[2]).exists()
        assert response["HX-Replace-Url"] == f"/history/{IDS[3]}/"
        dialog = dialog_of(html)
        assert f'data-item-id="{IDS[3]}"' in dialog
        assert "Moved to the trash: Fashion Swap." in text(dialog)
        assert re.search(rf'hx-post="/history/{IDS[2]}/restore\?"', dialog)
        assert re.search(r"<button[^>]*autofocus[^>]*>Undo</button>", dialog)
        # The gallery behind is drawn again without it; the page's own toast stays empty.
        gallery = html.split('<section id="gallery"', 1)[1].split("</section>", 1)[0]
        assert f'id="card-{IDS[2]}"' not in gallery and f'id="card-{IDS[3]}"' in gallery
        assert "undo-toast" not in html.split('<section id="gallery"', 1)[0].split('id="undo-toast"', 1)[1][:200]

    def test_the_last_result_goes_on_to_the_previous_one(self, client, designer, api, five_results):
        html = self.delete(client, IDS[4]).content.decode()
        assert f'data-item-id="{IDS[3]}"' in dialog_of(html)

    def test_the_only_result_left_closes_the_lightbox_with_the_pages_undo(self, client, designer, api, five_results):
        for item_id in IDS[1:]:
            TrashedResult.objects.create(
                history_item_id=item_id, trashed_by=designer, trashed_by_name="ada", trashed_at=timezone.now()
            )
            IndexedResult.objects.filter(history_item_id=item_id).update(in_trash=True)
        html = self.delete(client, IDS[0]).content.decode()
        assert "<dialog" not in html
        assert '<div id="lightbox" class="lightbox-root" hx-swap-oob="true"></div>' in html
        assert "Moved to the trash." in text(html.split('id="undo-toast"', 1)[1])

    def test_undo_brings_it_back_and_shows_it_again_in_the_lightbox(self, client, designer, api, five_results):
        self.delete(client, IDS[2])
        url = reverse("history_restore", args=[IDS[2]])
        response = client.post(url, headers={**HTMX, "HX-Target": "gallery"})
        html = response.content.decode()

        assert not TrashedResult.objects.filter(history_item_id=IDS[2]).exists()
        assert response["HX-Replace-Url"] == f"/history/{IDS[2]}/"
        dialog = dialog_of(html)
        assert f'data-item-id="{IDS[2]}"' in dialog and "Restored." in text(dialog)
        assert f'id="card-{IDS[2]}"' in html.split('<section id="gallery"', 1)[1]

    def test_a_failed_delete_stays_on_the_result_and_says_why_there(self, client, designer, api, five_results):
        api.replace("GET", f"{API}/user/generation-history/{IDS[2]}", status=503, json={"detail": "down"})
        html = self.delete(client, IDS[2]).content.decode()
        dialog = dialog_of(html)
        assert f'data-item-id="{IDS[2]}"' in dialog
        assert "Could not delete it:" in text(dialog)
        assert not TrashedResult.objects.filter(history_item_id=IDS[2]).exists()

    def test_without_javascript_it_leads_to_the_next_results_page_with_the_undo(
        self, client, designer, api, five_results
    ):
        response = self.delete(client, IDS[2], htmx=False, query="status=complete")
        assert response.status_code == 303 and response["Location"] == f"/history/{IDS[3]}/?status=complete"
        dialog = dialog_of(client.get(response["Location"]).content.decode())
        assert "Moved to the trash: Fashion Swap." in text(dialog)
        assert re.search(rf'action="/history/{IDS[2]}/restore\?status=complete"', dialog)

        response = client.post(reverse("history_restore", args=[IDS[2]]) + "?status=complete")
        assert response["Location"] == f"/history/{IDS[2]}/?status=complete"
        assert "Restored." in text(dialog_of(client.get(response["Location"]).content.decode()))
