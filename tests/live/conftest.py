import pytest
from django.conf import settings as django_settings


@pytest.fixture
def pushing(settings, on_redis, transactional_db):
    """Push on: REDIS_URL (the hubs' subscription) and the cache (the publisher) on the
    test's own Redis; rows committed, for the servers' threads to see them."""
    settings.REDIS_URL = on_redis.url
    settings.REDIS_RETRY_SECONDS = 0
    settings.LIVE_HEARTBEAT_SECONDS = 0.5
    return on_redis


@pytest.fixture
def asgi_app(pushing):
    """The web process's ASGI application (pages and event streams) on a real socket."""
    from tests.support.asgi import asgi_server

    with asgi_server() as base_url:
        yield base_url


@pytest.fixture
def live_page(page, asgi_app, designer, client):
    """Chromium logged in as the designer (Ada, as `client` is) on the ASGI application."""
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": asgi_app}])
    return page


@pytest.fixture
def start_run(designer, on_simulator):
    """start_run(garments, models): a Fashion Swap run of the designer's library images,
    its cells queued for a worker (tests.support.worker) to send."""
    from dashboard import genapi
    from dashboard.core.slots import slots_for
    from dashboard.runs import services as runs
    from tests.support.library import library_image

    tool = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
    garment, model = slots_for("fashion_swap", "fashion")

    def start(garments: int, models: int):
        rows = [library_image(designer, "clothes", f"garment {i}") for i in range(garments)]
        columns = [library_image(designer, "person", f"model {j}") for j in range(models)]
        return runs.start_run(designer, tool=tool, style=None, rows=(garment, rows), columns=(model, columns))

    return start
