from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Make sure the local demo login (demo / demo) exists. Refuses to run with DEBUG off."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo user is for local demos only; DEBUG is off, so it was not created.")
        user, created = get_user_model().objects.get_or_create(username="demo", defaults={"first_name": "Demo"})
        user.set_password("demo")
        user.is_active = True
        user.save()
        self.stdout.write("Created the demo user." if created else "The demo user exists.")
