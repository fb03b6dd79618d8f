"""Who may see an uploaded photo: two designers, real files, the upstream stubbed.

An input attached to a job is the team's (anyone logged in may review it beside the
result); an upload no job has used yet is its owner's alone; anything else is a 404.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage
from tests.factories import InputImageFactory
from tests.generate.test_page import JOB_URL, api, post_job, upload  # noqa: F401 (api is a fixture)
from tests.support.corpus import garment_photo, person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

VARIANTS = ("file", "thumbnail", "download")
HTMX = {"HX-Request": "true"}


def drafted_photo(client, ada) -> InputImage:
    """Ada adds a model photo but no garment: her photo is kept, no job is sent."""
    client.force_login(ada)
    body = post_job(client, {"person": upload("ada-private.jpg", person_photo(), "image/jpeg")}).content.decode()
    assert "Add the garment." in body
    return InputImage.objects.get(owner=ada)


def statuses(client, pk: int) -> dict[str, int]:
    return {variant: client.get(reverse("input_image", args=[pk, variant])).status_code for variant in VARIANTS}


class TestInputsOfOtherDesigners:
    def test_an_upload_no_job_used_is_seen_only_by_its_owner(self, client, api, ada, bob):
        draft = drafted_photo(client, ada)
        assert statuses(client, draft.pk) == {"file": 200, "thumbnail": 200, "download": 200}

        client.force_login(bob)
        assert statuses(client, draft.pk) == {"file": 404, "thumbnail": 404, "download": 404}
        page = client.get(reverse("input_image", args=[draft.pk, "download"])).content.decode()
        assert "ada-private.jpg" not in page

    def test_once_a_job_uses_it_the_whole_team_may_review_it(self, client, api, ada, bob):
        api.post(JOB_URL, json={"history_item_id": "job00000000000000000000a"})
        draft = drafted_photo(client, ada)
        post_job(client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(draft.pk))
        assert draft.uses.count() == 1

        client.force_login(bob)
        assert statuses(client, draft.pk) == {"file": 200, "thumbnail": 200, "download": 200}

    def test_counting_up_the_ids_finds_nothing_of_anyone_else(self, client, api, ada, bob):
        drafted_photo(client, ada)
        client.force_login(bob)
        found = [
            pk
            for pk in range(1, InputImage.objects.order_by("-pk").first().pk + 5)
            if client.get(reverse("input_image", args=[pk, "thumbnail"])).status_code == 200
        ]
        assert found == []

    def test_a_designers_own_draft_can_be_kept_in_her_form_but_not_in_anyone_elses(self, client, api, ada, bob):
        draft = drafted_photo(client, ada)
        client.force_login(bob)
        page = client.get(reverse("home") + f"?person={draft.pk}").content.decode()
        assert not re.search(rf'name="person__kept" value="{draft.pk}"', page)
        assert f"/inputs/{draft.pk}/" not in page


class TestRunAgainUsesOnlyWhatTheDesignerMayPick:
    """Run again sends a job's own input images: a teammate may do so only with images
    they could pick themselves (library.pickable), never another's private or archived one."""

    def job_of(self, client, ada, **image_fields) -> str:
        from dashboard.models import Job, JobInput

        api_job = Job.objects.create(history_item_id="job00000000000000000000a", designer=ada, tool="fashion_swap")
        garment = InputImageFactory(owner=ada, kind="clothes", in_library=True, stored=True)
        model = InputImageFactory(owner=ada, kind="person", in_library=True, stored=True, **image_fields)
        JobInput.objects.create(job=api_job, image=garment, slot="clothes", label="Garment")
        JobInput.objects.create(job=api_job, image=model, slot="person", label="Model photo")
        return api_job.history_item_id

    @pytest.mark.parametrize("image_fields", [{"private": True}, {"archived_at": "2026-01-01T00:00Z"}])
    def test_a_teammate_is_told_and_nothing_is_sent(self, client, api, ada, bob, image_fields):
        item_id = self.job_of(client, ada, **image_fields)
        client.force_login(bob)
        response = client.post(reverse("rerun", args=[item_id]), {"submission": new_token()}, headers=HTMX)

        assert "Nothing was sent: the model photo of this job is not available to you" in response.content.decode()
        assert not [call for call in api.calls if call.request.method == "POST"]

    def test_the_owner_of_the_private_image_may_run_it_again(self, client, api, ada):
        api.post(JOB_URL, json={"history_item_id": "job00000000000000000000b"})
        item_id = self.job_of(client, ada, private=True)
        client.force_login(ada)
        response = client.post(reverse("rerun", args=[item_id]), {"submission": new_token()}, headers=HTMX)

        assert "Nothing was sent" not in response.content.decode()
        assert [call for call in api.calls if call.request.method == "POST"]
