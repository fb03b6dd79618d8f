import io
import json
import logging

import pytest
import responses


@pytest.fixture
def rsps():
    """Stubbed HTTP for the upstream: unregistered requests raise."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def log_lines():
    """What the deployment's console handler (settings.LOGGING) writes, one parsed JSON
    object a line: the handler as configured, its stream swapped for the test's."""
    handler = next(h for h in logging.getLogger("dashboard").handlers if h.name == "console")
    written = io.StringIO()
    earlier = handler.setStream(written)
    try:
        yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    finally:
        handler.setStream(earlier)
