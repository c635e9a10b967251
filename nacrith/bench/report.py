"""Reports of a bench run: the `Report` and its text, Markdown and JSON renderings."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nacrith import corpora
from nacrith.bench.collect import BenchFile
from nacrith.bench.measure import Result
from nacrith.bench.peers import Contender, package_version

__all__ = [
    "Report",
    "machine_info",
    "render_corpora",
    "render_json",
    "render_markdown",
    "render_text",
]


@dataclass
class Report:
    """Everything one bench run measured, with what is needed to reproduce it."""

    files: list[BenchFile]
    contenders: list[Contender]
    results: list[Result]
    command: str
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def totals(self) -> list[Result]:
        """One summed result per contender (over the files it ran on)."""
        out = []
        for contender in self.contenders:
            rows = [r for r in self.results if r.method == contender.name]
            if not rows:
                continue
            ok = [r for r in rows if r.error is None]
            total = Result(
                file="TOTAL",
                size=sum(r.size for r in ok),
                method=contender.name,
                kind=contender.kind,
                compressed=sum(r.compressed or 0 for r in ok) if ok else None,
                compress_s=sum(r.compress_s or 0.0 for r in ok) if ok else None,
                decompress_s=sum(r.decompress_s or 0.0 for r in ok) if ok else None,
                runs=len(ok),
                verified=all(r.verified for r in rows),
                error=None if len(ok) == len(rows) else f"{len(rows) - len(ok)} failed",
            )
            out.append(total)
        return out

    def failures(self) -> list[Result]:
        """Results whose round trip failed or did not run."""
        return [r for r in self.results if r.error is not None or not r.verified]


def machine_info() -> dict[str, Any]:
    """The machine, Python and library versions the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nacrith": package_version("nacrith"),
    }


def _fmt_bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _fmt_bpb(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _verified(result: Result) -> str:
    if result.verified:
        return "yes"
    return "FAILED" if result.error is not None else "NO"


_HEADERS = (
    "file",
    "bytes",
    "method",
    "compressed",
    "bits/byte",
    "comp KB/s",
    "dec KB/s",
    "verified",
)
_RIGHT = (False, True, False, True, True, True, True, False)


def _row(result: Result, first: bool) -> list[str]:
    return [
        result.file if first else "",
        _fmt_bytes(result.size) if first else "",
        result.method,
        _fmt_bytes(result.compressed),
        _fmt_bpb(result.bpb),
        _fmt_rate(result.compress_kbps),
        _fmt_rate(result.decompress_kbps),
        _verified(result),
    ]


def _detail_rows(report: Report) -> list[list[str]]:
    rows, previous = [], None
    for result in report.results:
        rows.append(_row(result, result.file != previous))
        previous = result.file
    return rows


def _total_rows(report: Report) -> list[list[str]]:
    rows = []
    for total in report.totals():
        row = _row(total, True)
        row[0] = f"{total.runs} file(s)" if total.error is None else f"{total.runs} ({total.error})"
        rows.append(row)
    return rows


def _text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(map(esc, headers)) + " |"]
    out.append("|" + "|".join("---:" if r else "---" for r in right) + "|")
    out.extend("| " + " | ".join(map(esc, row)) + " |" for row in rows)
    return "\n".join(out)


def _footnotes(report: Report) -> list[str]:
    checked = [r for r in report.results if r.error is None]
    lines = [
        f"verified: each of the {len(report.results)} archives was decompressed in this process "
        f"and compared byte for byte with its input ({sum(r.verified for r in checked)} identical"
        + (f", {len(report.failures())} FAILED" if report.failures() else "")
        + ").",
        "bits/byte = 8 x compressed / input bytes; KB/s = input bytes / 1000 / seconds, "
        "best of up to 20 runs, one process, wall clock.",
    ]
    lines += [note for note in (f.note for f in report.files) if note]
    ran = {r.method for r in report.results}
    lines += [f"{c.name}: {c.settings}" for c in report.contenders if c.name in ran]
    lines += [f"left out: {name}: {why}" for name, why in report.skipped.items()]
    lines += [f"FAILED: {r.file} with {r.method}: {r.error}" for r in report.failures()]
    lines += report.notes
    return lines


def render_text(report: Report) -> str:
    """The report as aligned terminal tables with footnotes."""
    parts = [
        _text_table(_HEADERS, _detail_rows(report), _RIGHT),
        "",
        "Totals per method:",
        _text_table(("files", *_HEADERS[1:]), _total_rows(report), _RIGHT),
        "",
        *_footnotes(report),
    ]
    return "\n".join(parts) + "\n"


def _matrix(report: Report) -> str:
    names = [c.name for c in report.contenders if any(r.method == c.name for r in report.results)]
    by_key = {(r.file, r.method): r for r in report.results}
    lines: list[tuple[str, dict[str, Result]]] = [
        (f.label, {m: by_key[f.label, m] for m in names if (f.label, m) in by_key})
        for f in report.files
    ]
    lines.append(("**total**", {t.method: t for t in report.totals()}))
    rows = []
    for label, cells in lines:
        values = {m: r.bpb for m, r in cells.items() if r.error is None and r.bpb is not None}
        best = min(values.values(), default=None)
        row = [label]
        for name in names:
            text = _fmt_bpb(values.get(name))
            row.append(f"**{text}**" if best is not None and values.get(name) == best else text)
        rows.append(row)
    return _md_table(("bits per byte", *names), rows, (False, *[True] * len(names)))


def render_markdown(report: Report) -> str:
    """The report as Markdown: a bits-per-byte matrix, totals, and the per-file details."""
    notes = "\n".join(f"- {line}" for line in _footnotes(report))
    return (
        f"{_matrix(report)}\n\n"
        f"Totals (lowest bits per byte in bold above):\n\n"
        f"{_md_table(('files', *_HEADERS[1:]), _total_rows(report), _RIGHT)}\n\n"
        f"<details><summary>Per file</summary>\n\n"
        f"{_md_table(_HEADERS, _detail_rows(report), _RIGHT)}\n\n"
        f"</details>\n\n{notes}\n\n"
        f"Command: `{report.command}`; {report.machine.get('cpu', '?')}, "
        f"{report.machine.get('logical_cores', '?')} logical cores, Python "
        f"{report.machine.get('python', '?')}, {report.date}.\n"
    )


def _result_dict(result: Result) -> dict[str, Any]:
    out = asdict(result)
    out.update(
        bits_per_byte=result.bpb,
        compress_kb_per_s=result.compress_kbps,
        decompress_kb_per_s=result.decompress_kbps,
    )
    return out


def render_json(report: Report) -> str:
    """The report as JSON (every measurement, totals, settings, machine, command)."""
    payload = {
        "command": report.command,
        "date": report.date,
        "machine": report.machine,
        "units": {"speed": "KB/s, 1 KB = 1000 bytes", "bits_per_byte": "8*compressed/size"},
        "files": [
            {
                "label": f.label,
                "path": str(f.path),
                "bytes": f.size,
                "corpus": f.corpus,
                "note": f.note,
            }
            for f in report.files
        ],
        "methods": [
            {"name": c.name, "kind": c.kind, "settings": c.settings} for c in report.contenders
        ],
        "results": [_result_dict(r) for r in report.results],
        "totals": [_result_dict(t) for t in report.totals()],
        "skipped": report.skipped,
        "notes": report.notes,
        "all_verified": not report.failures(),
    }
    return json.dumps(payload, indent=2) + "\n"


def render_corpora(manifest: corpora.Manifest) -> str:
    """The corpora of `manifest` as a text table: name, size, availability, where each is."""
    rows = []
    for entry in manifest:
        where = corpora.locate(manifest, entry)
        rows.append(
            [
                entry.name,
                _fmt_bytes(entry.bytes),
                entry.availability,
                str(where) if where else f"(not here; from {entry.source_url})",
            ]
        )
    table = _text_table(
        ("name", "bytes", "availability", "location"), rows, (False, True, False, False)
    )
    groups = ", ".join(f"{name} ({len(files)})" for name, files in manifest.corpora().items())
    return f"{table}\n\ncorpora: {groups}\nmanifest: {manifest.source}\n"
