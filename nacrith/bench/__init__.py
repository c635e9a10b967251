"""`ncz bench`: round-trip files through nacrith and the usual compressors, and tabulate them.

Every file is compressed and decompressed by each selected nacrith method and by gzip -9,
bzip2 -9, xz -9e, zstd -19 --long, brotli -q 11 and PPMd (their Python bindings, in this
process, on the same bytes); each output is compared byte for byte with the input. The report
gives compressed size, bits per byte and compress / decompress speed per file and in total, as a
terminal table, Markdown, JSON or a PNG chart.

The modules, one job each: `peers` (the other compressors, `Contender`), `contenders` (the
nacrith methods), `collect` (inputs), `measure` (timing, `Result`), `report` (`Report` and its
renderings), `plot` (the chart) and `command` (the click command and `bench()`). Only
`command` imports click.
"""

from __future__ import annotations

from nacrith.bench.collect import BenchFile, collect_files
from nacrith.bench.command import bench, bench_command, peer_list
from nacrith.bench.contenders import default_methods, make_contenders, method_problem
from nacrith.bench.errors import BenchUsageError
from nacrith.bench.measure import Result, measure, run_bench
from nacrith.bench.peers import PEERS, Contender
from nacrith.bench.plot import save_plot
from nacrith.bench.report import (
    Report,
    machine_info,
    render_corpora,
    render_json,
    render_markdown,
    render_text,
)

__all__ = [
    "PEERS",
    "BenchFile",
    "BenchUsageError",
    "Contender",
    "Report",
    "Result",
    "bench",
    "bench_command",
    "collect_files",
    "default_methods",
    "machine_info",
    "make_contenders",
    "measure",
    "method_problem",
    "peer_list",
    "render_corpora",
    "render_json",
    "render_markdown",
    "render_text",
    "run_bench",
    "save_plot",
]
