"""Designer accounts and their roles: a designer, or a team admin who manages the team's
accounts in Django's admin (/admin/). Operators are superusers."""
