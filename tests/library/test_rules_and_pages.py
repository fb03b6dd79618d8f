"""The input library's rules: what each designer finds, tags, names, who may change what,
adding several files at once, and pruning images nobody used. Real database and files."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from dashboard.core import images
from dashboard.library import services as library
from dashboard.models import InputImage, Job, JobInput
from tests.factories import InputImageFactory
from tests.support.corpus import flat_photo, garment_photo, person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}


def add(owner, name: str, kind: str = "clothes", content: bytes | None = None, **fields) -> InputImage:
    upload = SimpleUploadedFile(name, content or garment_photo(), "image/png")
    info = images.inspect_image(
        upload, max_bytes=django_settings.UPLOAD_MAX_BYTES, max_pixels=django_settings.UPLOAD_MAX_PIXELS
    )
    image = library.add_to_library(owner, upload, info, kind)
    if fields:
        InputImage.objects.filter(pk=image.pk).update(**fields)
        image.refresh_from_db()
    return image


def names(found) -> list[str]:
    return [image.display_name for image in found]


def stored_files(settings) -> set[str]:
    root = settings.MEDIA_ROOT
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


class TestSearch:
    def test_the_team_sees_shared_images_newest_first_but_not_private_ones_or_drafts(self, ada, bob):
        add(ada, "red-dress.png")
        add(bob, "blue-coat.png")
        add(bob, "secret.png", private=True)
        InputImageFactory(owner=bob, original_name="draft.png")
        assert names(library.search(ada)) == ["blue-coat", "red-dress"]
        assert names(library.search(bob)) == ["secret", "blue-coat", "red-dress"]  # his own private one, not his draft

    def test_kind_search_by_name_or_tag_prefix_and_mine(self, ada, bob):
        add(ada, "Red Dress.png", tags=" summer linen ")
        add(ada, "anna.png", kind="person", tags=" studio ")
        add(bob, "coat.png", tags=" winter ")
        assert names(library.search(ada, kind="person")) == ["anna"]
        assert names(library.search(ada, q="RED")) == ["Red Dress"]
        assert names(library.search(ada, q="sum")) == ["Red Dress"]  # a tag's start
        assert names(library.search(ada, q="inter")) == []  # not the middle of a tag
        assert names(library.search(ada, q="dress linen")) == ["Red Dress"]  # every word
        assert names(library.search(ada, mine=True)) == ["anna", "Red Dress"]

    def test_archived_images_show_only_when_asked(self, ada):
        add(ada, "kept.png")
        add(ada, "old.png", archived_at=timezone.now())
        assert names(library.search(ada)) == ["kept"]
        assert names(library.search(ada, archived=True)) == ["old", "kept"]

    def test_use_count_counts_jobs(self, ada):
        image = add(ada, "used.png")
        job = Job.objects.create(history_item_id="job00000000000000000000a", designer=ada, tool="fashion_swap")
        JobInput.objects.create(job=job, slot="clothes", label="Garment", image=image)
        assert [found.use_count for found in library.search(ada)] == [1]

    def test_pickable_leaves_out_archived_and_others_private_images(self, ada, bob):
        shared, archived = add(bob, "shared.png"), add(bob, "archived.png", archived_at=timezone.now())
        private = add(bob, "private.png", private=True)
        own_private = add(ada, "mine.png", private=True)
        found = set(library.pickable(ada))
        assert shared in found and own_private in found
        assert archived not in found and private not in found


class TestTags:
    def test_commas_and_spaces_lower_case_once_each(self):
        assert library.parse_tags(" Summer, linen  #Blue,summer ") == ["summer", "linen", "blue"]
        assert library.parse_tags("") == []

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (" ".join(f"t{n}" for n in range(11)), "up to 10 tags"),
            ("a" * 25, "at most 24 characters"),
            ("dr<ss", "letters, digits"),
        ],
    )
    def test_too_many_too_long_or_odd_tags_are_refused(self, text, message):
        with pytest.raises(library.LibraryRefused, match=message):
            library.parse_tags(text)

    def test_set_tags_stores_spaced_words(self, ada):
        image = library.set_tags(ada, add(ada, "a.png"), "Linen, summer")
        image.refresh_from_db()
        assert image.tags == " linen summer " and image.tag_list == ["linen", "summer"]


class TestWhoMayChangeWhat:
    def test_a_teammate_may_rename_tag_and_archive_a_shared_image(self, ada, bob):
        image = add(ada, "a.png")
        library.rename(bob, image, "  Linen   shirt ")
        library.set_tags(bob, image, "linen")
        library.archive(bob, image)
        image.refresh_from_db()
        assert (image.name, image.tags, image.archived_at is not None) == ("Linen shirt", " linen ", True)
        library.unarchive(bob, image)
        image.refresh_from_db()
        assert image.archived_at is None

    def test_only_the_owner_makes_an_image_private_or_shares_it(self, ada, bob):
        image = add(ada, "a.png")
        with pytest.raises(library.LibraryRefused, match="Only ada"):
            library.set_private(bob, image, True)
        library.set_private(ada, image, True)
        image.refresh_from_db()
        assert image.private
        with pytest.raises(library.LibraryRefused, match="not in the library"):
            library.rename(bob, image, "mine now")

    def test_empty_or_long_names_are_refused(self, ada):
        image = add(ada, "a.png")
        with pytest.raises(library.LibraryRefused, match="Give the image a name"):
            library.rename(ada, image, "   ")
        with pytest.raises(library.LibraryRefused, match="at most 120"):
            library.rename(ada, image, "x" * 121)


class TestAddingFiles:
    def test_good_files_are_kept_and_bad_ones_listed_never_stored(self, ada, settings):
        files = [
            SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            SimpleUploadedFile("notes.txt", b"not an image at all", "text/plain"),
            SimpleUploadedFile("model.jpg", person_photo(), "image/jpeg"),
        ]
        added = library.add_files(ada, files, "clothes")
        assert names(added.images) == ["dress", "model"]
        assert [name for name, _ in added.refused] == ["notes.txt"]
        assert InputImage.objects.filter(in_library=True, kind="clothes").count() == 2
        assert len(stored_files(settings)) == 4  # two files, two thumbnails

    def test_files_over_the_minute_limit_are_refused_with_the_wait(self, ada, settings):
        settings.UPLOADS_PER_MINUTE = 1
        files = [SimpleUploadedFile(f"{n}.png", flat_photo(), "image/png") for n in range(2)]
        added = library.add_files(ada, files, "room")
        assert len(added.images) == 1
        assert "the most allowed" in added.refused[0][1]

    def test_an_unknown_kind_is_refused(self, ada):
        with pytest.raises(library.LibraryRefused, match="what kind"):
            library.add_files(ada, [SimpleUploadedFile("a.png", flat_photo(), "image/png")], "weapons")


class TestPruning:
    def test_old_never_used_images_go_rows_and_files_the_rest_stay(self, ada, settings):
        old = timezone.now() - timedelta(days=31)
        stale = add(ada, "stale.png", created_at=old)
        used = add(ada, "used.png", created_at=old, used_at=old)  # its job was deleted since
        fresh = add(ada, "fresh.png")
        in_a_job = add(ada, "in-a-job.png", created_at=old)
        job = Job.objects.create(history_item_id="job00000000000000000000a", designer=ada, tool="fashion_swap")
        JobInput.objects.create(job=job, slot="clothes", label="Garment", image=in_a_job)

        out = StringIO()
        call_command("prune_library", stdout=out)
        assert "Removed stale\n" in out.getvalue()
        assert "Removed 1 unused library image (" in out.getvalue()
        assert set(InputImage.objects.all()) == {used, fresh, in_a_job}
        assert not {stale.file.name, stale.thumbnail.name} & stored_files(settings)

        again = StringIO()
        call_command("prune_library", stdout=again)  # idempotent
        assert again.getvalue() == "Removed 0 unused library images (0 bytes).\n"

    def test_the_age_is_configurable_and_drafts_are_not_its_business(self, ada, settings):
        settings.LIBRARY_UNUSED_DAYS = 2
        three_days = timezone.now() - timedelta(days=3)
        add(ada, "stale.png", created_at=three_days)
        draft = add(ada, "draft.png", created_at=three_days, in_library=False)
        removed, size = library.prune_unused()
        assert removed == ["stale"] and size > 0
        assert list(InputImage.objects.all()) == [draft]
        assert library.prune_unused(timedelta(days=4)) == ([], 0)

    def test_drafts_are_still_pruned_by_prune_drafts_and_library_images_are_not(self, ada):
        day_ago = timezone.now() - timedelta(days=2)
        kept = add(ada, "library.png", created_at=day_ago)
        add(ada, "draft.png", created_at=day_ago, in_library=False)
        call_command("prune_drafts", stdout=StringIO())
        assert list(InputImage.objects.all()) == [kept]


class TestThePages:
    def test_the_library_page_lists_and_filters(self, client, ada, bob, settings):
        client.force_login(ada)
        add(bob, "coat.png", tags=" winter ")
        add(ada, "anna.png", kind="person")
        page = client.get(reverse("library")).content.decode()
        assert "coat" in page and "anna" in page and "Model photo" in page and 'aria-current="page">Library' in page
        fragment = client.get(reverse("library") + "?q=wint", headers={**HTMX, "HX-Target": "library-results"})
        assert fragment["HX-Push-Url"] == "/library/?q=wint"
        assert "coat" in fragment.content.decode() and "anna" not in fragment.content.decode()
        assert "<html" not in fragment.content.decode()

    def test_pages_hold_48_images_and_keep_the_filters_in_their_links(self, client, ada):
        client.force_login(ada)
        for number in range(library.PAGE_SIZE + 1):
            InputImageFactory(
                owner=ada, original_name=f"linen-{number}.png", name=f"linen-{number}", kind="clothes", in_library=True
            )
        page = client.get(reverse("library") + "?q=linen&kind=clothes").content.decode()
        assert page.count('class="library-card') == 48
        assert 'href="/library/?q=linen&amp;kind=clothes&amp;page=2"' in page
        second = client.get(reverse("library") + "?q=linen&kind=clothes&page=2").content.decode()
        assert second.count('class="library-card') == 1 and "linen-0" in second

    def test_adding_without_javascript_says_what_was_added_and_refused(self, client, ada):
        client.force_login(ada)
        response = client.post(
            reverse("library_add"),
            {
                "kind": "person",
                "images": [
                    SimpleUploadedFile("anna.jpg", person_photo(), "image/jpeg"),
                    SimpleUploadedFile("x.gif", b"GIF89a", "image/gif"),
                ],
            },
            follow=True,
        )
        body = response.content.decode()
        assert "Added 1 image to the library." in body
        assert "x.gif was not added:" in body
        assert list(InputImage.objects.values_list("name", "kind", "in_library")) == [("anna", "person", True)]

    def test_adding_nothing_says_so(self, client, ada):
        client.force_login(ada)
        body = client.post(reverse("library_add"), {"kind": "person"}, headers=HTMX).content.decode()
        assert "Choose one or more images to add." in body

    def test_renaming_and_tagging_inline_returns_the_card(self, client, ada, bob):
        image = add(bob, "coat.png")
        client.force_login(ada)
        body = client.post(
            reverse("library_image", args=[image.pk]),
            {"action": "save", "name": "Wool coat", "tags": "Winter, wool"},
            headers=HTMX,
        ).content.decode()
        assert f'id="library-image-{image.pk}"' in body and "Saved." in body and "Wool coat" in body
        image.refresh_from_db()
        assert image.tag_list == ["winter", "wool"]
        refused = client.post(
            reverse("library_image", args=[image.pk]), {"action": "save", "name": "", "tags": "a b"}, headers=HTMX
        ).content.decode()
        assert "Give the image a name." in refused and 'name="tags" value="a b"' in refused  # kept as typed
        editing = client.get(reverse("library_image", args=[image.pk]) + "?edit=1", headers=HTMX).content.decode()
        assert 'name="name" value="Wool coat"' in editing and 'value="winter, wool"' in editing
        assert (
            client.get(reverse("library_image", args=[image.pk]))["Location"]
            == f"/library/?edit={image.pk}#library-image-{image.pk}"
        )
        page = client.get(reverse("library") + f"?edit={image.pk}").content.decode()
        assert 'name="name" value="Wool coat"' in page  # open without JavaScript
        assert "Make private" not in body  # not hers

    def test_actions_without_javascript_redirect_back_with_a_message(self, client, ada):
        image = add(ada, "coat.png")
        client.force_login(ada)
        response = client.post(
            reverse("library_image", args=[image.pk]), {"action": "private", "next": "/library/?mine=1"}
        )
        assert response.status_code == 303 and response["Location"] == "/library/?mine=1"
        image.refresh_from_db()
        assert image.private
        response = client.post(
            reverse("library_image", args=[image.pk]), {"action": "archive", "next": "//evil.example"}, follow=True
        )
        assert response.redirect_chain[0][0] == reverse("library")
        assert "coat: Archived" in response.content.decode()

    def test_someone_elses_private_image_is_a_404(self, client, ada, bob):
        image = add(bob, "secret.png", private=True)
        client.force_login(ada)
        response = client.post(reverse("library_image", args=[image.pk]), {"action": "archive"})
        assert response.status_code == 404
        assert "not in the library" in response.content.decode()


class TestThePicker:
    def test_without_javascript_a_choice_links_back_to_the_form_with_the_other_slots_images(self, client, ada, bob):
        anna = add(bob, "anna.png", kind="person", content=person_photo(fmt="PNG"))
        add(bob, "coat.png")
        client.force_login(ada)
        page = client.get(reverse("library_pick") + "?slot=person&tool=fashion_swap&clothes=7").content.decode()
        assert "<html" in page and "Choose a model photo from the library" in page
        assert f'href="/?tool=fashion_swap&amp;clothes=7&amp;person={anna.pk}"' in page
        assert "coat" not in page  # another kind
        assert 'href="/?tool=fashion_swap&amp;clothes=7" data-close-picker' in page

    def test_all_kinds_and_search_and_the_fragment_for_htmx(self, client, ada):
        add(ada, "coat.png", tags=" wool ")
        add(ada, "anna.png", kind="person", content=person_photo(fmt="PNG"))
        client.force_login(ada)
        url = reverse("library_pick") + "?slot=person&all=1&q=woo"
        fragment = client.get(url, headers={**HTMX, "HX-Target": "picker-results"}).content.decode()
        assert fragment.startswith('\n  <div id="picker-results"') or fragment.lstrip().startswith(
            '<div id="picker-results"'
        )
        assert "coat" in fragment and "anna" not in fragment
        dialog = client.get(reverse("library_pick") + "?slot=person", headers=HTMX).content.decode()
        assert "<html" not in dialog and 'data-picker-for="person"' in dialog and "anna" in dialog

    def test_an_unknown_slot_is_a_clear_404(self, client, ada):
        client.force_login(ada)
        response = client.get(reverse("library_pick") + "?slot=weapons")
        assert response.status_code == 404 and "no such slot" in response.content.decode()
