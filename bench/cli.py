"""`python -m bench [NAME ...]`: set up a throw-away installation, run, print, save."""

from __future__ import annotations

import argparse
import sys
from time import perf_counter

from bench.environment import DATABASES, DEFAULT_POSTGRES_URL, installation, machine_info


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Tillbook's benchmarks, each against a baseline measured in the same run.",
    )
    parser.add_argument(
        "names", nargs="*", help="benchmarks to run, e.g. customers or customers.search (all)"
    )
    parser.add_argument("--database", choices=DATABASES, default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="server and database for --database postgres; the database is created and "
        "dropped, so its name must contain 'bench' (default: %(default)s)",
    )
    parser.add_argument("--rows", type=_positive, default=100_000, help="data size (100000)")
    parser.add_argument(
        "--iterations", type=_positive, default=10, help="repeats of each search query (10)"
    )
    parser.add_argument("--seed", type=int, default=20250601, help="data generator seed")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile Tillbook's side with cProfile (slows it down: figures are not comparable)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    with installation(
        arguments.database, postgres_url=arguments.postgres_url, migrate=not arguments.list
    ) as workdir:
        # Imported after django.setup(): the suites import Tillbook's models.
        from bench import registry, report

        registry.discover()
        if arguments.list:
            print("\n".join(registry.registered()))
            return
        try:
            chosen = registry.selected(arguments.names)
        except ValueError as error:
            sys.exit(f"bench: {error}")
        context = registry.Context(
            vendor=_vendor(),
            rows=arguments.rows,
            iterations=arguments.iterations,
            seed=arguments.seed,
            workdir=workdir,
            profile=arguments.profile,
        )
        machine = machine_info()
        print(report.machine_lines(machine, context), flush=True)
        started = perf_counter()
        rows: list[registry.Row] = []
        for name, run in chosen:
            print(f"running {name} …", file=sys.stderr, flush=True)
            rows.extend(run(context))
        print()
        print(report.table(rows))
        print(report.RATIO_LEGEND)
        if context.profile:
            print("\nprofiled run: Tillbook's figures include cProfile's overhead.")
            for summary in report.save_profiles(context, database=arguments.database):
                print(summary)
        path = report.save_json(
            rows=rows, machine=machine, context=context, database=arguments.database
        )
        print(f"finished in {perf_counter() - started:.0f}s; results in {path}")


def _vendor() -> str:
    from django.db import connection

    return connection.vendor
