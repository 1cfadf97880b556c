"""``manage.py mirakl_sandbox``: run the Mirakl sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import sys
import time
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mirakl.sandbox import DEFAULT_API_KEY, SandboxServer, parse_fault_spec

__all__ = ["Command"]


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


class Command(BaseCommand):
    help = "Run the Mirakl sandbox (a fake Mirakl shop API) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        parser.add_argument("--shop-id", type=int, default=None)
        parser.add_argument(
            "--multi-shop-key",
            action="store_true",
            help="the key has several shops: calls without shop_id read another, empty shop",
        )
        parser.add_argument(
            "--shops",
            type=int,
            default=1,
            help="the key reaches this many shops (ids --shop-id, --shop-id + 1, …), each "
            "with its own data; calls must name theirs with shop_id",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--orders", type=int, default=None, help="orders to generate")
        parser.add_argument(
            "--faults", default="", help="e.g. 429=0.1,500=0.05,timeout=0.02,slow=0.1,slow_ms=800"
        )
        parser.add_argument("--auto-close-seconds", type=float, default=300.0)
        parser.add_argument("--payable-balance", type=_amount, default=Decimal("5000.00"))
        parser.add_argument(
            "--channels", default="ES", help="the shop's sales channels, comma-separated"
        )

    def handle(
        self,
        *args: object,
        host: str,
        port: int,
        api_key: str,
        shop_id: int | None,
        seed: int,
        orders: int | None,
        faults: str,
        auto_close_seconds: float,
        payable_balance: Decimal,
        channels: str,
        multi_shop_key: bool = False,
        shops: int = 1,
        **options: object,
    ) -> None:
        try:
            spec = parse_fault_spec(faults or "")
        except ValueError as exc:
            raise CommandError(f"--faults: {exc}") from exc
        channel_codes = [code.strip().upper() for code in channels.split(",") if code.strip()]
        if not channel_codes:
            raise CommandError("--channels: at least one channel code, e.g. ES")
        logger = logging.getLogger("mirakl.sandbox")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(logging.INFO)

        started = time.perf_counter()
        server = SandboxServer(
            host=host,
            port=port,
            api_key=api_key,
            shop_id=shop_id,
            seed=seed,
            orders=orders,
            faults=spec,
            auto_close_seconds=auto_close_seconds,
            payable_balance=payable_balance,
            multi_shop_key=multi_shop_key,
            channels=channel_codes,
            shops=shops,
        )
        counts = server.state.snapshot()
        if shops > 1:
            self.stdout.write(f"One key, {shops} shops: {', '.join(server.states)}; the first:")
        self.stdout.write(
            f"Mirakl sandbox on {server.base_url} (shop {counts['shop']['id']}, seed {seed}): "
            f"{counts['orders']} orders, {counts['open_incidents']} open incidents, "
            f"{counts['threads']} threads, {counts['messages']} messages; ready in "
            f"{time.perf_counter() - started:.1f}s. Faults: {spec if spec.active else 'none'}."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Sandbox stopped.")
