from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tillbook.api.models import ApiToken
from tillbook.api.scopes import SCOPES
from tillbook.api.services import api_token_create, api_token_revoke
from tillbook.core.errors import TillbookError
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope


def business_or_error(slug: str) -> Business:
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        known = ", ".join(Business.objects.order_by("slug").values_list("slug", flat=True)[:20])
        raise CommandError(f"No business with the address {slug!r}. Known: {known or 'none yet'}.")
    return business


class Command(BaseCommand):
    help = "Create, list and revoke API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token and print it once")
        create.add_argument("--business", required=True, help="the business's address (slug)")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            dest="scopes",
            help=f"repeat for several; one of: {', '.join(SCOPES)}",
        )
        create.add_argument("--name", default="Command line")
        listing = actions.add_parser("list", help="List a business's tokens")
        listing.add_argument("--business", required=True)
        revoke = actions.add_parser("revoke", help="Revoke a token by its prefix")
        revoke.add_argument("--business", required=True)
        revoke.add_argument(
            "--prefix", required=True, help="the part after tb_ and before the next _"
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        business = business_or_error(options["business"])
        with business_scope(business):
            try:
                if action == "create":
                    created = api_token_create(
                        business=business,
                        actor=None,
                        name=options["name"],
                        scopes=options["scopes"],
                    )
                    self.stdout.write(created.secret)
                    self.stderr.write(
                        f"Token “{created.token.name}” for {business.slug} with "
                        f"{', '.join(created.token.scopes)}. It is shown only this once."
                    )
                elif action == "list":
                    for token in ApiToken.objects.filter(business=business):
                        state = "revoked" if token.revoked_at else "active"
                        self.stdout.write(
                            f"tb_{token.prefix}_…\t{token.name}\t{','.join(token.scopes)}\t{state}"
                        )
                else:
                    found = ApiToken.objects.filter(
                        business=business, prefix=options["prefix"]
                    ).first()
                    if found is None:
                        raise CommandError(
                            f"No token with prefix {options['prefix']!r} in {business.slug}."
                        )
                    api_token_revoke(token=found, actor=None)
                    self.stdout.write(f"Revoked tb_{found.prefix}_…")
            except TillbookError as error:
                raise CommandError(error.message) from None
