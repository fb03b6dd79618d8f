"""Uploaded inputs on S3 (MEDIA_STORAGE=s3): stored through the app's real upload path
and read back through the input-image view, over HTTP against moto's S3 server."""

import uuid

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from dashboard.models import Job
from dashboard.settings import media_storage_settings
from tests.support.forms import job_form
from tests.support.services import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(scope="session")
def s3_server():
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3_server):
    """An empty bucket of this test's own on the S3 server, as boto3 sees it."""
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    name = f"nextry-media-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": s3_server.region})
    return s3, name


@pytest.fixture
def on_s3(settings, s3_server, bucket):
    """Django's default storage configured from the environment production would set."""
    _, name = bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": media_storage_settings(
            {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": name,
                "AWS_S3_ENDPOINT_URL": s3_server.endpoint_url,
                "AWS_S3_REGION_NAME": s3_server.region,
                "AWS_ACCESS_KEY_ID": s3_server.access_key,
                "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
                "AWS_LOCATION": "media",
            }
        ),
    }
    return bucket


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


def stored_keys(s3, bucket: str) -> list[str]:
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


class TestInputsOnS3:
    def test_an_upload_through_the_generate_form_lands_in_the_bucket_and_is_served_back(
        self, client, designer, on_s3, settings
    ):
        s3, name = on_s3
        response = client.post(
            reverse("home"),
            job_form(),
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200 and Job.objects.count() == 1
        person = Job.objects.get().inputs.get(slot="person").image

        keys = stored_keys(s3, name)
        assert f"media/{person.file.name}" in keys and f"media/{person.thumbnail.name}" in keys
        assert len(keys) == 4  # two inputs, two thumbnails
        assert not settings.MEDIA_ROOT.exists() or not any(settings.MEDIA_ROOT.rglob("*.*"))

        served = client.get(reverse("input_image", args=[person.pk, "file"]))
        assert served.status_code == 200 and served["Content-Type"] == "image/png"
        stored = s3.get_object(Bucket=name, Key=f"media/{person.file.name}")["Body"].read()
        assert b"".join(served.streaming_content) == stored
        assert stored.startswith(b"\x89PNG") and len(stored) == person.size

        thumbnail = client.get(reverse("input_image", args=[person.pk, "thumbnail"]))
        assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
        assert b"".join(thumbnail.streaming_content)[8:12] == b"WEBP"

    def test_an_input_gone_from_the_bucket_is_a_clear_404(self, client, designer, on_s3):
        s3, name = on_s3
        client.post(
            reverse("home"),
            job_form(),
            headers={"HX-Request": "true"},
        )
        person = Job.objects.get().inputs.get(slot="person").image
        s3.delete_object(Bucket=name, Key=f"media/{person.file.name}")
        response = client.get(reverse("input_image", args=[person.pk, "file"]))
        assert response.status_code == 404
        assert "no longer stored" in response.content.decode()


class TestMediaStorageFromTheEnvironment:
    def test_the_file_system_is_the_default(self):
        assert media_storage_settings({}) == {"BACKEND": "dashboard.core.storage.LocalMediaStorage"}

    def test_s3_needs_a_bucket(self):
        with pytest.raises(ImproperlyConfigured, match="AWS_STORAGE_BUCKET_NAME"):
            media_storage_settings({"MEDIA_STORAGE": "s3"})

    def test_an_unknown_storage_is_refused(self):
        with pytest.raises(ImproperlyConfigured, match="MEDIA_STORAGE"):
            media_storage_settings({"MEDIA_STORAGE": "ftp"})

    def test_s3_keeps_objects_private_and_never_overwrites(self):
        options = media_storage_settings({"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b"})["OPTIONS"]
        assert options["default_acl"] is None and options["file_overwrite"] is False
        assert options["querystring_auth"] is True
