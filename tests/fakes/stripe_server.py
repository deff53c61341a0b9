"""A local server that speaks the part of Stripe's HTTP API Tillbook uses, for tests.

It listens on 127.0.0.1 on a random port (threaded http.server), checks the bearer key,
decodes Stripe's form encoding (`metadata[a]=b`, `line_items[0][quantity]=1`, `expand[0]=…`),
honours `Idempotency-Key` as Stripe does (same key and same parameters: the first response
again, with `Idempotent-Replayed: true`; same key, other parameters: 400 idempotency_error),
and returns objects shaped like the examples in Stripe's published OpenAPI fixtures
(openapi/fixtures3.json: checkout.session, payment_intent, charge, balance_transaction,
refund, payout, event). Test helpers play the payer (`pay`, `decline`, `expire`), the dashboard
(`refund_in_dashboard`) and Stripe's payout run (`charge_elsewhere`, `fee_line`, `pay_out`), and
build and sign webhook events exactly as Stripe does. Lists page as Stripe's do: newest first,
`limit`, `starting_after`, `has_more`.

Never a real processor: nothing here talks to the network beyond the loopback address.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2025-09-30.clover"
FEE_RATE_BASIS_POINTS = 290  # 2.9 % + 30 minor units, Stripe's standard US card pricing
FEE_FIXED = 30


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        parts = raw_key.replace("]", "").split("[")
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = parts[index + 1] if not last else ""
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    if node[position] is None:
                        node[position] = [] if following.isdigit() else {}
                    node = node[position]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if following.isdigit() else {})
    return root


def stripe_error(status: int, kind: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    """The server's state. Objects are plain dicts keyed by their Stripe id."""

    api_keys: set[str] = field(default_factory=lambda: {"sk_test_tillbook"})
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    balance_transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # Idempotency-Key -> (method, path, params, status, body)
    idempotent: dict[str, tuple[str, str, dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    # Paths whose next POST is carried out but answered with a 500 (a response lost on the
    # way back), as happens when a connection drops after Stripe did the work.
    lose_next_response: set[str] = field(default_factory=set)
    # Paths that answer 500 without doing anything (Stripe down).
    unavailable: set[str] = field(default_factory=set)
    settlement_currency: str = ""
    # The status new refunds get: "pending" for methods whose refunds Stripe settles later
    # (see `refund_settles`).
    refund_status: str = "succeeded"
    # The prefix of new refunds' ids: "re" for cards, "pyr" for bank debits and other
    # non-card methods (the ones Stripe mostly answers "pending" for).
    refund_prefix: str = "re"
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    # ---- HTTP --------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests.append(Recorded(method, path, params, headers))
            auth = headers.get("authorization", "")
            key = auth.removeprefix("Bearer ").strip()
            if key not in self.api_keys:
                status, body = stripe_error(
                    401,
                    "invalid_request_error",
                    f"Invalid API Key provided: {key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}",
                )
                return status, body, {}
            if path in self.unavailable:
                status, body = stripe_error(500, "api_error", "Something went wrong on Stripe.")
                return status, body, {"Stripe-Should-Retry": "false"}
            idempotency_key = headers.get("idempotency-key", "")
            if method == "POST" and idempotency_key:
                seen = self.idempotent.get(idempotency_key)
                if seen is not None:
                    if (seen[0], seen[1], seen[2]) != (method, path, params):
                        status, body = stripe_error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{idempotency_key}' if you meant to execute a different request.",
                        )
                        return status, body, {}
                    return seen[3], copy.deepcopy(seen[4]), {"Idempotent-Replayed": "true"}
            status, body = self.route(method, path, params)
            if method == "POST" and idempotency_key and status < 500:
                self.idempotent[idempotency_key] = (method, path, params, status, body)
            if method == "POST" and path in self.lose_next_response:
                self.lose_next_response.discard(path)
                status, lost = stripe_error(500, "api_error", "The connection was reset.")
                return status, lost, {"Stripe-Should-Retry": "false"}
            return status, copy.deepcopy(body), {}

    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "checkout", "sessions"]:
            return self.create_session(params)
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            return self.found(self.sessions, parts[3], "checkout.session", params)
        if method == "GET" and parts[:2] == ["v1", "payment_intents"] and len(parts) == 3:
            return self.found(self.intents, parts[2], "payment_intent", params)
        if method == "GET" and parts[:2] == ["v1", "balance_transactions"] and len(parts) == 3:
            return self.found(self.balance_transactions, parts[2], "balance_transaction", params)
        if method == "GET" and parts == ["v1", "balance_transactions"]:
            return self.list_balance_transactions(params)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self.create_refund(params)
        if method == "GET" and parts[:2] == ["v1", "refunds"] and len(parts) == 3:
            return self.found(self.refunds, parts[2], "refund", params)
        return stripe_error(404, "invalid_request_error", f"Unrecognized request URL ({path}).")

    def found(
        self, table: dict[str, dict[str, Any]], object_id: str, kind: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        item = table.get(object_id)
        if item is None:
            return stripe_error(
                404,
                "invalid_request_error",
                f"No such {kind}: '{object_id}'",
                code="resource_missing",
                param="id",
            )
        return 200, self.expanded(self.public(item), params.get("expand") or [])

    def list_balance_transactions(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """GET /v1/balance_transactions: `payout` keeps the lines that payout carried (the
        payout's own transaction among them), `expand[]=data.source` the objects they moved."""
        try:
            limit = int(params.get("limit") or 10)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return stripe_error(
                400,
                "invalid_request_error",
                "This value must be greater than or equal to 1.",
                param="limit",
            )
        payout = params.get("payout")
        if payout and payout not in self.payouts:
            return stripe_error(
                404,
                "invalid_request_error",
                f"No such payout: '{payout}'",
                code="resource_missing",
                param="payout",
            )
        if payout and self.payouts[payout]["reconciliation_status"] != "completed":
            # Stripe can list a payout's lines only once it has reconciled them
            # (payout.reconciliation_completed); until then the list is empty.
            return 200, {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/balance_transactions?payout={payout}",
            }
        rows = [
            item
            for item in self.balance_transactions.values()
            if not payout or item.get("_payout") == payout
        ]
        # Newest first, as Stripe lists; ids break ties within a second.
        rows.sort(key=lambda item: (item["created"], item["id"]), reverse=True)
        after = params.get("starting_after")
        if after:
            ids = [item["id"] for item in rows]
            if after not in ids:
                return stripe_error(
                    400,
                    "invalid_request_error",
                    f"No such balance_transaction: '{after}'",
                    param="starting_after",
                )
            rows = rows[ids.index(after) + 1 :]
        paths = [
            path.removeprefix("data.")
            for path in params.get("expand") or []
            if path.startswith("data.")
        ]
        page = [self.expanded(self.public(item), paths) for item in rows[:limit]]
        query = f"?payout={payout}" if payout else ""
        return 200, {
            "object": "list",
            "data": page,
            "has_more": len(rows) > limit,
            "url": f"/v1/balance_transactions{query}",
        }

    def expanded(self, item: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        result = copy.deepcopy(item)
        tables = {
            "latest_charge": self.charges,
            "balance_transaction": self.balance_transactions,
            "payment_intent": self.intents,
        }
        if item.get("object") == "balance_transaction":
            # A balance transaction's source is whatever moved the money.
            tables["source"] = {**self.charges, **self.refunds, **self.payouts}
        for path in paths:
            node = result
            for part in path.split("."):
                value = node.get(part) if isinstance(node, dict) else None
                if isinstance(value, str) and part in tables and value in tables[part]:
                    node[part] = copy.deepcopy(tables[part][value])
                    value = node[part]
                node = value
        return result

    # ---- Objects -----------------------------------------------------------------------

    def create_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for required in ("success_url", "line_items", "mode"):
            if not params.get(required):
                return stripe_error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {required}.",
                    param=required,
                )
        items = params["line_items"]
        currency = items[0]["price_data"]["currency"]
        total = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items
        )
        session_id = f"cs_test_{secrets.token_hex(24)}"
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {"enabled": False, "status": None},
            "billing_address_collection": None,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "consent": None,
            "consent_collection": None,
            "created": now,
            "currency": currency,
            "custom_fields": [],
            "custom_text": {"shipping_address": None, "submit": None},
            "customer": None,
            "customer_creation": "if_required",
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "invoice": None,
            "invoice_creation": None,
            "livemode": False,
            "locale": None,
            "metadata": params.get("metadata") or {},
            "mode": params["mode"],
            # Current API versions create the PaymentIntent only when the payer confirms.
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required",
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_details": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": None,
            "subscription": None,
            "success_url": params["success_url"],
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "_intent_data": params.get("payment_intent_data") or {},
        }
        self.sessions[session_id] = session
        return 200, self.public(session)

    @staticmethod
    def public(item: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in item.items() if not key.startswith("_")}

    def _intent_for(self, session: dict[str, Any], status: str) -> dict[str, Any]:
        intent_id = session["payment_intent"] or _id("pi")
        session["payment_intent"] = intent_id
        data = session["_intent_data"]
        intent = self.intents.get(intent_id) or {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": session["currency"],
            "customer": None,
            "description": data.get("description"),
            "invoice": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": data.get("metadata") or {},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": _id("pm"),
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": session.get("customer_email"),
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }
        intent["status"] = status
        self.intents[intent_id] = intent
        return intent

    def create_refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(params.get("payment_intent", ""))
        charge = self.charges.get(intent["latest_charge"]) if intent else None
        if charge is None and params.get("charge"):
            charge = self.charges.get(params["charge"])
        if charge is None:
            return stripe_error(
                400,
                "invalid_request_error",
                f"No such payment_intent: '{params.get('payment_intent') or params.get('charge')}'",
                code="resource_missing",
            )
        amount = int(params.get("amount") or charge["amount"] - charge["amount_refunded"])
        left = charge["amount"] - charge["amount_refunded"]
        if amount > left:
            return stripe_error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        refund = self._refund(charge, amount, params.get("metadata") or {})
        return 200, refund

    def _refund(self, charge: dict[str, Any], amount: int, metadata: dict[str, Any]) -> dict:
        transaction = self._balance_transaction(-amount, 0, charge["currency"], "refund", "refund")
        refund = {
            "id": _id(self.refund_prefix),
            "object": "refund",
            "amount": amount,
            "balance_transaction": transaction["id"],
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": None,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.refund_status,
            "transfer_reversal": None,
        }
        transaction["source"] = refund["id"]
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return refund

    def _charge_transaction(self, amount: int, currency: str) -> dict[str, Any]:
        fee = amount * FEE_RATE_BASIS_POINTS // 10_000 + FEE_FIXED
        return self._balance_transaction(amount, fee, currency, "charge", "charge")

    def _balance_transaction(
        self, amount: int, fee: int, currency: str, kind: str, category: str
    ) -> dict[str, Any]:
        now = int(time.time())
        settled = self.settlement_currency or currency
        transaction = {
            "id": _id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now + 2 * 86400,
            "created": now,
            "currency": settled,
            "description": None,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": (
                [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": settled,
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else []
            ),
            "net": amount - fee,
            "reporting_category": category,
            "source": None,
            "status": "pending",
            "type": kind,
        }
        self.balance_transactions[transaction["id"]] = transaction
        return transaction

    # ---- Payouts -----------------------------------------------------------------------

    def charge_elsewhere(self, amount: int, currency: str = "usd") -> dict[str, Any]:
        """A charge taken outside Tillbook on the same Stripe account (e.g. an invoice sent
        from Stripe's dashboard)."""
        with self.lock:
            transaction = self._charge_transaction(amount, currency)
            charge = {
                "id": _id("ch"),
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "balance_transaction": transaction["id"],
                "captured": True,
                "created": transaction["created"],
                "currency": currency,
                "metadata": {},
                "paid": True,
                "payment_intent": _id("pi"),
                "refunded": False,
                "status": "succeeded",
            }
            transaction["source"] = charge["id"]
            self.charges[charge["id"]] = charge
            return charge

    def fee_line(self, amount: int, description: str, currency: str = "usd") -> dict[str, Any]:
        """A fee Stripe charges on its own (Radar, a billing fee): a negative balance line."""
        with self.lock:
            transaction = self._balance_transaction(-amount, 0, currency, "stripe_fee", "fee")
            transaction["description"] = description
            return transaction

    def pay_out(self, transaction_ids: list[str], *, reconciled: bool = True) -> dict[str, Any]:
        """Stripe's automatic payout of these balance lines: a `po_…` whose amount is their
        net, and the payout's own balance transaction (negative) listed with them. Not
        `reconciled`, its lines cannot be listed yet (see `reconcile`)."""
        with self.lock:
            lines = [self.balance_transactions[tid] for tid in transaction_ids]
            amount = sum(line["net"] for line in lines)
            currency = lines[0]["currency"]
            now = int(time.time())
            own = self._balance_transaction(-amount, 0, currency, "payout", "payout")
            own["description"] = "STRIPE PAYOUT"
            payout = {
                "id": _id("po"),
                "object": "payout",
                "amount": amount,
                "application_fee": None,
                "application_fee_amount": None,
                "arrival_date": now + 86400,
                "automatic": True,
                "balance_transaction": own["id"],
                "created": now,
                "currency": currency,
                "description": "STRIPE PAYOUT",
                "destination": _id("ba"),
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "livemode": False,
                "metadata": {},
                "method": "standard",
                "original_payout": None,
                "reconciliation_status": "completed" if reconciled else "in_progress",
                "reversed_by": None,
                "source_type": "card",
                "statement_descriptor": None,
                "status": "paid",
                "type": "bank_account",
            }
            own["source"] = payout["id"]
            for line in [*lines, own]:
                line["_payout"] = payout["id"]
                line["status"] = "available"
            self.payouts[payout["id"]] = payout
            return payout

    def reconcile(self, payout_id: str) -> dict[str, Any]:
        """Stripe finishes reconciling the payout; returns payout.reconciliation_completed."""
        with self.lock:
            payout = self.payouts[payout_id]
            payout["reconciliation_status"] = "completed"
            return self.event("payout.reconciliation_completed", payout)

    def payout_fails(self, payout_id: str) -> dict[str, Any]:
        """The bank sends the payout back; returns the payout.failed event. The money is back
        in the balance as a `payout_failure` transaction (its source the payout), which a later
        payout carries out again."""
        with self.lock:
            payout = self.payouts[payout_id]
            returned = self._balance_transaction(
                payout["amount"], 0, payout["currency"], "payout_failure", "payout_reversal"
            )
            returned["source"] = payout_id
            returned["description"] = "PAYOUT FAILURE"
            payout["status"] = "failed"
            payout["failure_balance_transaction"] = returned["id"]
            payout["failure_code"] = "account_closed"
            payout["failure_message"] = "The bank account has been closed."
            return self.event("payout.failed", payout)

    # ---- The payer and the dashboard ---------------------------------------------------

    def pay(self, session_id: str) -> dict[str, dict[str, Any]]:
        """The payer pays on Stripe's page. Returns the events Stripe then sends."""
        with self.lock:
            session = self.sessions[session_id]
            intent = self._intent_for(session, "succeeded")
            amount = intent["amount"]
            transaction = self._charge_transaction(amount, intent["currency"])
            charge = {
                "id": _id("ch"),
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "application": None,
                "application_fee": None,
                "application_fee_amount": None,
                "balance_transaction": transaction["id"],
                "billing_details": {
                    "address": None,
                    "email": session.get("customer_email"),
                    "name": "Jenny Rosen",
                    "phone": None,
                },
                "calculated_statement_descriptor": "TILLBOOK",
                "captured": True,
                "created": int(time.time()),
                "currency": intent["currency"],
                "customer": None,
                "description": intent["description"],
                "disputed": False,
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "fraud_details": {},
                "livemode": False,
                "metadata": {},
                "on_behalf_of": None,
                "outcome": {"network_status": "approved_by_network", "type": "authorized"},
                "paid": True,
                "payment_intent": intent["id"],
                "payment_method": intent["payment_method"],
                "payment_method_details": {
                    "card": {
                        "brand": "visa",
                        "country": "US",
                        "exp_month": 8,
                        "exp_year": 2030,
                        "funding": "credit",
                        "last4": "4242",
                        "network": "visa",
                    },
                    "type": "card",
                },
                "receipt_email": session.get("customer_email"),
                "refunded": False,
                "status": "succeeded",
            }
            transaction["source"] = charge["id"]
            self.charges[charge["id"]] = charge
            intent["latest_charge"] = charge["id"]
            intent["amount_received"] = amount
            session["status"] = "complete"
            session["payment_status"] = "paid"
            session["customer_details"] = {
                "address": None,
                "email": session.get("customer_email") or "jenny.rosen@example.com",
                "name": "Jenny Rosen",
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            return {
                "checkout.session.completed": self.event(
                    "checkout.session.completed", self.public(session)
                ),
                "payment_intent.succeeded": self.event("payment_intent.succeeded", intent),
                "charge.succeeded": self.event("charge.succeeded", charge),
            }

    def decline(self, session_id: str) -> dict[str, Any]:
        """The payer's card is declined (they are still on Stripe's page)."""
        with self.lock:
            session = self.sessions[session_id]
            intent = self._intent_for(session, "requires_payment_method")
            intent["last_payment_error"] = {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error",
            }
            return self.event("payment_intent.payment_failed", intent)

    def expire(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            session = self.sessions[session_id]
            session["status"] = "expired"
            return self.event("checkout.session.expired", self.public(session))

    def refund_in_dashboard(self, intent_id: str, amount: int) -> dict[str, Any]:
        """Staff refund in Stripe's dashboard; returns the charge.refunded event."""
        with self.lock:
            charge = self.charges[self.intents[intent_id]["latest_charge"]]
            self._refund(charge, amount, {})
            return self.event("charge.refunded", charge)

    def refund_settles(
        self, refund_id: str, status: str, failure_reason: str | None = None
    ) -> dict[str, Any]:
        """Stripe's final word on a pending refund; returns charge.refund.updated. A failed
        refund's money goes back to the balance and off the charge's refunded total."""
        with self.lock:
            refund = self.refunds[refund_id]
            refund["status"] = status
            if status in ("failed", "canceled"):
                refund["failure_reason"] = failure_reason
                # The money comes back to the balance as a line of its own.
                back = self._balance_transaction(
                    refund["amount"], 0, refund["currency"], "refund_failure", "refund_failure"
                )
                back["source"] = refund["id"]
                refund["failure_balance_transaction"] = back["id"]
                charge = self.charges[refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            return self.event("charge.refund.updated", refund)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload`, computed as Stripe computes it."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), str(stamp).encode() + b"." + payload, hashlib.sha256
    ).hexdigest()
    return f"t={stamp},v1={digest}"


def webhook_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            return

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if method == "POST":
                pairs += parse_qsl(body, keep_blank_values=True)
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload, extra = fake.handle(method, parts.path, decode_form(pairs), headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-stripe", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
