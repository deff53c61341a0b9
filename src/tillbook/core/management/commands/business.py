from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tillbook.core.errors import TillbookError
from tillbook.core.models import Business, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create, invitation_create


class Command(BaseCommand):
    help = "Create and list businesses."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a business")
        create.add_argument("--slug", required=True, help="web address, e.g. maple-coaching")
        create.add_argument("--name", required=True)
        create.add_argument("--currency", required=True, help="ISO 4217 code, e.g. USD")
        create.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Chicago")
        create.add_argument("--locale", default="en_US")
        create.add_argument(
            "--owner-email",
            help="make this person the owner: an existing login joins at once, anyone else "
            "gets a one-time link (printed here and emailed) to set a password",
        )
        actions.add_parser("list", help="List businesses")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            for business in Business.objects.order_by("slug"):
                self.stdout.write(
                    f"{business.slug}\t{business.name}\t{business.currency}\t{business.timezone}"
                )
            return
        owner_email = (options.get("owner_email") or "").strip().lower()
        owner = User.objects.filter(email__iexact=owner_email).first() if owner_email else None
        try:
            # One transaction: an owner invitation that cannot be made (an address that is not
            # one) leaves no business behind.
            with unscoped(), transaction.atomic():
                business = business_create(
                    slug=options["slug"],
                    name=options["name"],
                    currency=options["currency"],
                    timezone_name=options["timezone"],
                    locale=options["locale"],
                    owner=owner,
                )
                created = None
                if owner_email and owner is None:
                    with business_scope(business):
                        created = invitation_create(
                            business=business,
                            actor_membership=None,
                            email=owner_email,
                            role=Role.OWNER,
                        )
        except TillbookError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created {business.name} at /manage/{business.slug}/")
        )
        if created is not None:
            self.stdout.write(f"Owner invitation for {owner_email}: {created.accept_url}")
        elif owner is not None:
            self.stdout.write(f"{owner.email} is the owner.")
