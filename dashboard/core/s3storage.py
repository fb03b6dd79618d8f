"""The S3 store of uploaded inputs (MEDIA_STORAGE=s3): django-storages' backend, raising
StorageUnavailable when S3 cannot be reached or refuses (see dashboard/core/storage.py).
Imported only with MEDIA_STORAGE=s3: boto3 comes with the `s3` extra."""

from __future__ import annotations

from boto3.exceptions import Boto3Error
from botocore import exceptions as botocore_errors
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3File, S3Storage
from storages.utils import clean_name

from dashboard.core.storage import translate_errors, translating

# Everything boto3 raises when S3 cannot be reached, refuses or fails (S3UploadFailedError
# is boto3's own); OSError for the temporary file a download is spooled to.
S3_ERRORS = (BotoCoreError, ClientError, Boto3Error, OSError)
# Of them, those that say S3 could not be reached at all (refused, timed out), rather than
# that it refused one request: after one, S3 is not tried for STORAGE_RETRY_SECONDS.
UNREACHABLE = (botocore_errors.ConnectionError, botocore_errors.ReadTimeoutError)


class S3MediaFile(S3File):
    """An S3 object opened for reading: its bytes are fetched at the first read, and that
    fetch failing is StorageUnavailable too."""

    file = property(translating(S3File._get_file, S3_ERRORS, UNREACHABLE), S3File._set_file)


class S3MediaStorage(S3Storage):
    """django-storages' S3 backend; S3 away is StorageUnavailable."""

    def _open(self, name: str, mode: str = "rb") -> S3File:
        # S3Storage._open, with the file class above.
        name = self._normalize_name(clean_name(name))
        try:
            return S3MediaFile(name, mode, self)
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from err
            raise

    def answers(self) -> bool:
        """Whether the bucket is there and ours to use: one HEAD request, bounded by the
        client's timeouts (STORAGE_CONNECT_TIMEOUT, ...). Not the HEAD of some key: in a
        bucket that is missing, that says "no such key", while every upload fails."""
        try:
            self.connection.meta.client.head_bucket(Bucket=self.bucket_name)
        except S3_ERRORS:
            return False
        return True


translate_errors(S3MediaStorage, S3_ERRORS, UNREACHABLE)
