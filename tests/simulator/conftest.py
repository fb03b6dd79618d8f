"""The simulator's tests run without Django.

The simulator shares nothing with the dashboard but HTTP, so its tests must not need
Django settings (they also run with ``-p no:django``). The project-wide conftest has
autouse fixtures that touch Django; same-named fixtures here replace them for this folder.
"""

import pytest


@pytest.fixture(autouse=True)
def _private_media() -> None:
    """Replaces the Django media-root fixture: nothing to isolate here."""


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Replaces the Django cache fixture: the simulator keeps no Django cache."""
