"""The library never hands out someone else's private image or draft: not in a form's
slot, not through a link's `?person=`, not in the picker or the library page, not to
its edit actions. Two designers, real files, the upstream stubbed."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from dashboard.models import InputImage
from tests.generate.test_page import JOB_URL, api, job_posts, post_job, upload  # noqa: F401 (api is a fixture)
from tests.support.corpus import garment_photo, person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]


def bobs_images(client, bob) -> dict[str, InputImage]:
    """Bob's private library model photo, his draft, and an archived shared one."""
    client.force_login(bob)
    client.post(
        reverse("library_add"),
        {
            "kind": "person",
            "images": [
                SimpleUploadedFile(f"{name}.jpg", person_photo(), "image/jpeg") for name in ("private", "archived")
            ],
        },
        follow=True,  # its messages are read by bob, not left for the next page
    )
    private = InputImage.objects.get(name="private")
    client.post(reverse("library_image", args=[private.pk]), {"action": "private"}, follow=True)
    archived = InputImage.objects.get(name="archived")
    client.post(reverse("library_image", args=[archived.pk]), {"action": "archive"}, follow=True)
    body = post_job(client, {"person": upload("bob-draft.jpg", person_photo(), "image/jpeg")}).content.decode()
    assert "Add the garment." in body
    found = {
        "private": InputImage.objects.get(pk=private.pk),
        "draft": InputImage.objects.get(original_name="bob-draft.jpg"),
        "archived": InputImage.objects.get(pk=archived.pk),
    }
    assert found["private"].private and found["archived"].archived_at and not found["draft"].in_library
    return found


@pytest.mark.parametrize("which", ["private", "draft", "archived"])
class TestSomeoneElsesImage:
    def test_cannot_be_sent_from_a_form(self, client, api, ada, bob, which):
        image = bobs_images(client, bob)[which]
        client.force_login(ada)
        body = post_job(
            client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(image.pk)
        ).content.decode()
        assert "The model photo chosen is not available to you (it may be private, archived or deleted)" in body
        assert job_posts(api) == []
        assert f"/inputs/{image.pk}/" not in body

    def test_cannot_be_loaded_from_a_link(self, client, api, ada, bob, which):
        image = bobs_images(client, bob)[which]
        client.force_login(ada)
        page = client.get(reverse("home") + f"?tool=fashion_swap&person={image.pk}").content.decode()
        assert "The model photo chosen is not available to you" in page
        assert not re.search(rf'name="person__kept" value="{image.pk}"', page)
        assert f"/inputs/{image.pk}/" not in page

    def test_is_not_listed_in_the_picker(self, client, api, ada, bob, which):
        image = bobs_images(client, bob)[which]
        client.force_login(ada)
        for query in ("?slot=person&tool=fashion_swap", "?slot=person&all=1", f"?slot=person&q={image.display_name}"):
            picker = client.get(reverse("library_pick") + query).content.decode()
            assert f"/inputs/{image.pk}/" not in picker


@pytest.mark.parametrize("which", ["private", "draft"])
class TestSomeoneElsesHiddenImage:
    def test_is_not_in_the_library_even_with_archived_shown(self, client, api, ada, bob, which):
        image = bobs_images(client, bob)[which]
        client.force_login(ada)
        page = client.get(reverse("library") + "?archived=1").content.decode()
        assert f"/inputs/{image.pk}/" not in page and image.display_name not in page

    @pytest.mark.parametrize("action", ["save", "archive", "unarchive", "private", "share"])
    def test_its_edit_actions_are_a_404_and_change_nothing(self, client, api, ada, bob, which, action):
        image = bobs_images(client, bob)[which]
        client.force_login(ada)
        response = client.post(
            reverse("library_image", args=[image.pk]), {"action": action, "name": "taken", "tags": "x"}
        )
        assert response.status_code == 404
        assert "This image is not in the library, or not yours to see." in response.content.decode()
        fresh = InputImage.objects.get(pk=image.pk)
        assert (fresh.name, fresh.tags, fresh.private, fresh.archived_at) == (
            image.name,
            image.tags,
            image.private,
            image.archived_at,
        )


class TestOwnImages:
    def test_the_owner_uses_her_own_private_image_and_draft(self, client, api, ada, bob):
        api.post(
            "http://genapi.test/generation/generate_image_v2/", json={"history_item_id": "job00000000000000000000a"}
        )
        images = bobs_images(client, bob)
        for which in ("private", "draft"):
            page = client.get(reverse("home") + f"?tool=fashion_swap&person={images[which].pk}").content.decode()
            assert f'name="person__kept" value="{images[which].pk}"' in page
        body = post_job(
            client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(images["private"].pk)
        ).content.decode()
        assert "Job sent" in body

    def test_a_teammate_cannot_make_a_shared_image_private(self, client, api, ada, bob):
        client.force_login(bob)
        client.post(
            reverse("library_add"),
            {"kind": "clothes", "images": [SimpleUploadedFile("coat.png", garment_photo(), "image/png")]},
        )
        coat = InputImage.objects.get(name="coat")
        client.force_login(ada)
        body = client.post(
            reverse("library_image", args=[coat.pk]), {"action": "private"}, headers={"HX-Request": "true"}
        ).content.decode()
        assert "Only bob, who added it, can change who sees this image." in body
        coat.refresh_from_db()
        assert not coat.private

    def test_counting_up_ids_on_the_edit_url_finds_nothing_hidden(self, client, api, ada, bob):
        bobs_images(client, bob)
        client.force_login(ada)
        last = InputImage.objects.order_by("-pk").first().pk
        visible = {image.pk for image in InputImage.objects.filter(in_library=True, private=False)}
        hits = {
            pk
            for pk in range(1, last + 5)
            if client.post(reverse("library_image", args=[pk]), {"action": "nothing"}).status_code != 404
        }
        assert hits == visible

    def test_archived_after_loading_is_refused_when_sent(self, client, api, ada, bob):
        client.force_login(bob)
        client.post(
            reverse("library_add"),
            {"kind": "person", "images": [SimpleUploadedFile("anna.jpg", person_photo(), "image/jpeg")]},
        )
        anna = InputImage.objects.get(name="anna")
        client.force_login(ada)
        assert f'value="{anna.pk}"' in client.get(reverse("home") + f"?person={anna.pk}").content.decode()
        InputImage.objects.filter(pk=anna.pk).update(archived_at=timezone.now())
        body = post_job(
            client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(anna.pk)
        ).content.decode()
        assert "not available to you" in body and job_posts(api) == []


class TestAPrivateImageUsedInAJob:
    """A job's inputs are shown to the team beside its result; that does not make a
    private one free to take into another run."""

    def test_cannot_be_ticked_or_listed_in_a_run_form(self, client, api, ada, bob):
        private = bobs_images(client, bob)["private"]
        api.post(
            JOB_URL,
            json={"preview_image": "p.webp", "stock_image": "s.png", "history_item_id": "job000000000000000000001"},
        )
        post_job(client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(private.pk))
        assert job_posts(api), "bob's own job used his private photo"
        assert InputImage.objects.visible_to(ada).filter(pk=private.pk).exists(), "shown to the team as a job's input"
        client.post(
            reverse("library_add"),
            {"kind": "person", "images": [SimpleUploadedFile("shared.jpg", person_photo(), "image/jpeg")]},
            follow=True,
        )
        shared = InputImage.objects.get(name="shared")
        client.force_login(ada)
        for query in (
            f"?tool=fashion_swap&person__library={private.pk}",
            "?tool=fashion_swap",
            f"?tool=fashion_swap&person__q={private.display_name}",
        ):
            page = client.get(reverse("new_run") + query).content.decode()
            assert f"/inputs/{private.pk}/" not in page
        listing = client.get(reverse("new_run") + "?tool=fashion_swap").content.decode()
        assert f"/inputs/{shared.pk}/" in listing, "a teammate's shared image is offered"


class TestOddCharacters:
    """Characters that look like digits but are not ("²"), and NUL, which PostgreSQL
    refuses in any string: ids, searches, names and notes with them are read as any
    other odd value, never a 500 (on PostgreSQL, these failed before)."""

    @pytest.mark.parametrize(
        "address",
        [
            "/runs/new?tool=fashion_swap&clothes__library=%C2%B2",
            "/runs/new?tool=fashion_swap&clothes__q=co%00at",
            "/runs/new/picker?tool=fashion_swap&slot=clothes&clothes__q=co%00at",
            "/library/?edit=%C2%B2",
            "/library/?q=co%00at",
            "/library/pick?slot=person&q=co%00at",
            "/library/pick?slot=person&clothes=%C2%B2",
        ],
    )
    def test_reading_an_address(self, client, api, ada, address):
        client.force_login(ada)
        assert client.get(address).status_code == 200

    def test_trying_a_cell_again(self, client, api, ada):
        from dashboard import genapi
        from dashboard.core.slots import slots_for
        from dashboard.runs import services as runs
        from tests.support.library import library_image

        garment, model = slots_for("fashion_swap", "fashion")
        run = runs.start_run(
            ada,
            tool=genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion"),
            style=None,
            rows=(garment, [library_image(ada, "clothes", "dress")]),
            columns=(model, [library_image(ada, "person", "anna")]),
        )
        client.force_login(ada)
        assert client.post(reverse("run_retry", args=[run.pk]), {"cell": "\u00b2"}).status_code == 303

    def test_a_name_with_nul_and_control_characters(self, client, api, ada):
        client.force_login(ada)
        client.post(
            reverse("library_add"),
            {"kind": "person", "images": [SimpleUploadedFile("an\x00na\x07.jpg", person_photo(), "image/jpeg")]},
            follow=True,
        )
        image = InputImage.objects.get(owner=ada)
        assert "\x00" not in image.original_name + image.name and "\x07" not in image.name
        response = client.post(
            reverse("library_image", args=[image.pk]), {"action": "save", "name": "an\x00na", "tags": ""}, follow=True
        )
        assert response.status_code == 200
        image.refresh_from_db()
        assert image.name == "an na"

    def test_a_note_with_nul(self, client, api, ada):
        from dashboard.models import Review

        item_id = "a1b2c3d4e5f6a1b2c3d4e5f6"
        api.get(
            f"http://genapi.test/user/generation-history/{item_id}",
            json={"id": item_id, "status": "complete", "tool": "fashion_swap"},
        )
        client.force_login(ada)
        response = client.post(
            reverse("review", args=[item_id]), {"note": "too\x00 dark"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        assert Review.objects.get(history_item_id=item_id).note == "too dark"
