"""Printing the table and saving the same figures as JSON in bench/results/."""

from __future__ import annotations

import io
import json
import os
import pstats
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.registry import Context, Row

# TILLBOOK_BENCH_RESULTS moves them (the test that runs every benchmark small keeps its own).
RESULTS_DIR = Path(os.environ.get("TILLBOOK_BENCH_RESULTS") or Path(__file__).parent / "results")
HEADERS = ("benchmark", "Tillbook", "baseline", "unit", "ratio", "note")
RATIO_LEGEND = "ratio: times the baseline's cost Tillbook pays (1.0x = as fast, above = slower)"


def format_figure(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    # Three significant digits keep sub-millisecond latencies readable (0.0412, not 0.04).
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    lines = [
        (row.name, format_figure(row.figure), format_figure(row.baseline), row.unit,
         f"{row.ratio:.2f}x", row.note)
        for row in rows
    ]  # fmt: skip
    widths = [max(len(cells[i]) for cells in [HEADERS, *lines]) for i in range(len(HEADERS))]
    numeric = {1, 2, 4}

    def render(cells: tuple[str, ...]) -> str:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return " | ".join(padded).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(HEADERS), rule, *(render(cells) for cells in lines)])


def machine_lines(machine: dict[str, str], context: Context) -> str:
    return "\n".join(
        [
            f"machine:  {machine['cpu']}, {machine['cpus']} CPUs, {machine['platform']}",
            f"software: {machine['python']}, Django {machine['django']}, {machine['database']}",
            f"scale:    {context.rows:,} rows, {context.iterations} iterations per query, "
            f"seed {context.seed}",
        ]
    )


def save_json(*, rows: list[Row], machine: dict[str, str], context: Context, database: str) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    finished = datetime.now(UTC)
    path = RESULTS_DIR / f"{finished:%Y%m%dT%H%M%SZ}-{database}.json"
    document = {
        "finished_at": finished.isoformat(),
        "database": database,
        "machine": machine,
        "scale": {"rows": context.rows, "iterations": context.iterations, "seed": context.seed},
        "profiled": context.profile,
        "rows": [asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def save_profiles(context: Context, *, database: str, top: int = 25) -> list[str]:
    """Write each profile as a .prof file (for snakeviz or pstats) and summarise it."""
    RESULTS_DIR.mkdir(exist_ok=True)
    summaries = []
    for label, profile in context.profiles.items():
        path = RESULTS_DIR / f"{label}-{database}.prof"
        profile.dump_stats(path)
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
        summaries.append(f"== profile {label} ({path}) ==\n{text.getvalue()}")
    return summaries
