# The admin's autodiscovery looks for the app's `admin` module; the accounts feature owns it.
from django.contrib import admin

from dashboard.accounts.admin import register

register(admin.site)
