"""Reports: a table on the terminal, a JSON file, a PNG chart, and the progress bar."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from loadtest.metrics import Summary, percentile
from loadtest.replay import Progress, RunResult, cpu_at_levels

console = Console(stderr=True)


@dataclass
class Point:
    """One concurrency level on the chart."""

    concurrency: int
    p50: float | None
    p95: float | None
    p99: float | None
    cpu_percent: float | None


class BarProgress(Progress):
    """A rich progress bar on stderr: calls done, in progress, turns, last latency."""

    def __init__(self, label: str = "replay") -> None:
        self._label = label
        self._bar: RichProgress | None = None
        self._task: Any = None

    def started(self, total: int | None, duration_s: float | None) -> None:
        self._bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=total, info="")

    def update(self, *, done: int, active: int, turns: int, last_latency_ms: float | None
               ) -> None:
        if self._bar is None:
            return
        last = f"{last_latency_ms:.0f} ms" if last_latency_ms is not None else "-"
        self._bar.update(self._task, completed=done,
                         info=f"{active} in progress, {turns} turns, last latency {last}")

    def finished(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def summary_table(s: Summary, *, title: str = "replay") -> Table:
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("p50", justify="right")
    t.add_column("p95", justify="right")
    t.add_column("p99", justify="right")
    t.add_column("max", justify="right")
    t.add_column("n", justify="right")

    def row(name: str, d: Mapping[str, Any]) -> None:
        t.add_row(name, _ms(d.get("p50")), _ms(d.get("p95")), _ms(d.get("p99")),
                  _ms(d.get("max")), str(d.get("n", "")))

    row("turn latency, ms (speech end → first agent audio)", s.latency_ms)
    row(f"  minus the turn wait ({s.turn_wait_ms:g} ms)", s.latency_over_wait_ms)
    row("outbound inter-arrival, ms", s.interarrival_ms)
    row("  beyond the previous packet's audio, ms", s.interarrival_excess_ms)
    row("barge-in → clear, ms", s.clear_ms)
    row("call set-up, ms (/voice → stream start)", s.setup_ms)
    row("stream start → first agent audio, ms", s.first_audio_ms)
    t.caption = (f"calls {s.calls}: {s.completed} completed, {s.dropped} dropped, "
                 f"{s.refused} refused, {s.errors} errors · turns {s.turns}, "
                 f"{s.unanswered} unanswered, {s.spoken_over} spoken over · audio behind "
                 f"real time max {s.behind_ms_max:.0f} ms · barge-ins {s.barge_ins} "
                 f"({s.clears_missing} without clear), false barge-ins {s.false_barge_ins}, "
                 f"media after clear {s.media_after_clear} · caller send lateness max "
                 f"{s.send_late_max_ms:.0f} ms")
    return t


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, payload: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(payload), indent=1) + "\n")
    return path


def run_payload(result: RunResult, **extra: Any) -> dict[str, Any]:
    return {**extra, "plan": result.plan, "summary": result.summary,
            "wall_s": result.wall_s,
            "server_samples": result.samples,
            "calls": [m.as_dict() for m in result.metrics]}


def points_by_concurrency(result: RunResult) -> list[Point]:
    """Turn latency percentiles and server CPU for each number of calls in progress."""
    by: dict[int, list[float]] = {}
    for m in result.metrics:
        for t in m.turns:
            if t.latency_ms is not None:
                by.setdefault(t.concurrency, []).append(t.latency_ms)
    cpu = cpu_at_levels(result.samples)
    levels = sorted(set(by) | set(cpu))
    return [Point(n, percentile(by.get(n, []), 50), percentile(by.get(n, []), 95),
                  percentile(by.get(n, []), 99), cpu.get(n)) for n in levels if n > 0]


def chart(path: str | Path, series: Mapping[str, Sequence[Point]], *, title: str = "",
          slo_ms: float | None = None) -> Path | None:
    """Latency percentiles (top) and server CPU (bottom) against concurrency, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print("[yellow]no chart: pip install 'frontdesk\\[loadtest]' (matplotlib)")
        return None
    from matplotlib.ticker import MaxNLocator

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    styles = {"p50": ":", "p95": "-", "p99": "--"}
    for name, points in series.items():
        xs = [p.concurrency for p in points]
        colour = None
        for q, style in styles.items():
            ys = [getattr(p, q) for p in points]
            (line,) = top.plot(xs, [y if y is not None else float("nan") for y in ys],
                               style, marker="o", markersize=3, color=colour,
                               label=f"{name} {q}")
            colour = line.get_color()
        cpu = [p.cpu_percent if p.cpu_percent is not None else float("nan") for p in points]
        bottom.plot(xs, cpu, "-", marker="o", markersize=3, color=colour, label=name)
    if slo_ms is not None:
        top.axhline(slo_ms, color="grey", linewidth=0.8)
    top.set_ylabel("turn latency, ms")
    top.set_title(title or "turn latency and server CPU against concurrency")
    top.legend(fontsize=7, ncol=2)
    top.grid(alpha=0.3)
    bottom.set_ylabel("server CPU, % of one core")
    bottom.set_xlabel("concurrent calls")
    bottom.axhline(100, color="grey", linewidth=0.8)
    bottom.legend(fontsize=7)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
