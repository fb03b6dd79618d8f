from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard import genapi


class Command(BaseCommand):
    help = "Check the generation API: reachability, the API key, and the endpoints the dashboard relies on."

    def handle(self, *args, **options):
        base_url = settings.GENAPI_BASE_URL
        self.stdout.write(f"Generation API at {base_url}")
        if not settings.GENAPI_API_KEY:
            raise CommandError("GENAPI_API_KEY is not set: the dashboard cannot authenticate to the API.")
        api = genapi.client()
        try:
            tools = api.tools()
        except genapi.UpstreamAuthError:
            raise CommandError("The API answered, but it refused the key in GENAPI_API_KEY (401). Check the key.") from None
        except genapi.PlanNotAllowed:
            raise CommandError("The API answered, but the key's plan does not allow listing tools (403).") from None
        except genapi.UpstreamUnavailable as exc:
            raise CommandError(f"The API could not be reached at {base_url}: {exc.message}") from None
        except genapi.GenApiError as exc:
            raise CommandError(f"The API answered with an error: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"Reachable, and the key is accepted ({len(tools)} tools offered)."))

        try:
            doc = api.openapi()
        except genapi.GenApiError as exc:
            self.stdout.write(self.style.WARNING(f"Could not read /openapi.json: {exc.message}"))
            return
        if doc is None:
            self.stdout.write(self.style.WARNING("The API offers no /openapi.json; endpoints were not checked."))
            return
        title = doc.get("info", {}).get("title", "untitled") if isinstance(doc.get("info"), dict) else "untitled"
        self.stdout.write(f"OpenAPI document: {title}")
        problems = 0
        for ok, sentence in genapi.check_openapi(doc):
            self.stdout.write((self.style.SUCCESS if ok else self.style.ERROR)(("  ok    " if ok else "  MISS  ") + sentence))
            problems += not ok
        if problems:
            raise CommandError(f"{problems} endpoint(s) the dashboard uses are missing or differ.")
        self.stdout.write(self.style.SUCCESS("Every endpoint the dashboard uses is documented."))
