#!/usr/bin/env python
"""Django's command-line entry point, with misconfiguration reported as a sentence."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscribe.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.exit(2)
    except OperationalError as exc:
        from django.conf import settings

        from brainscribe.env import redact_url

        sys.stderr.write(
            f"Cannot use the database at {redact_url(settings.DATABASE_URL)}: {str(exc).strip()}\n"
            "Check DATABASE_URL and that the database server is running.\n"
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
