"""Regenerate BENCHMARKS.md: every benchmark, each in its own section, and a summary on top.

    python scripts/bench_all.py                  # all jobs that exist (minutes, CPU only)
    python scripts/bench_all.py --only canterbury,loghub
    python scripts/bench_all.py --skip ratio --timeout 1200
    python scripts/bench_all.py --args ratio="--limit 100000"
    python scripts/bench_all.py --full           # also the whole of enwik8 (downloads 36 MB)
    python scripts/bench_all.py --dry-run        # print the plan, run nothing

Jobs run one after the other. `canterbury`, `loghub`, `enwik` (and `enwik8` with --full) are
`ncz bench` runs made in this process with the fast nacrith methods beside gzip, bzip2, xz,
zstd, brotli and PPMd; `ratio`, `fib`, `logs`, `chunks`, `speed` and `ceiling` are
`scripts/bench_<job>.py`, run as
subprocesses (skipped when the script does not exist yet) that write their own sections. A job
left out keeps the section an earlier run wrote; the summary says which sections are from this
run. enwik6 and enwik8-3M are prefixes of enwik8 and are labelled so; a figure for the whole of
enwik8 comes only from `--full`. Set NACRITH_CORPORA_PATH to a folder holding the corpora
(e.g. ../shared/corpora) to use local copies instead of downloading.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchmd  # the sibling module that owns BENCHMARKS.md sections

from nacrith import bench, corpora
from nacrith.errors import NacrithError

SCRIPTS = Path(__file__).resolve().parent
SUMMARY = "summary"


@dataclass
class Job:
    """One benchmark: an in-process `ncz bench` run or a sibling script."""

    name: str
    title: str
    targets: tuple[str, ...] = ()
    optional_targets: tuple[str, ...] = ()
    script: str | None = None
    full_only: bool = False
    intro: str = ""
    methods: tuple[str, ...] = ()  # nacrith methods for `ncz bench`; () = its fast defaults

    @property
    def section(self) -> str:
        """The BENCHMARKS.md section this job writes."""
        return f"bench-{self.name}" if self.script is None else self.name


@dataclass
class Outcome:
    """What happened to one job in this run."""

    job: Job
    status: str
    seconds: float | None = None
    command: str = ""
    report: bench.Report | None = None
    notes: list[str] = field(default_factory=list)


JOBS = [
    Job(
        "canterbury",
        "Canterbury corpus",
        targets=("canterbury",),
        intro="The 11 files of the Canterbury corpus (Arnold & Bell, 1997), committed in "
        "`corpora/canterbury/`.",
    ),
    Job(
        "loghub",
        "Loghub 2k samples",
        targets=("loghub",),
        intro="The 2,000-line samples of 10 systems from Loghub (`corpora/loghub/`); the `logs` "
        "method runs on the files that look like logs.",
    ),
    Job(
        "enwik",
        "enwik8 prefixes (not the whole of enwik8)",
        targets=("enwik6",),
        optional_targets=("enwik8-3M",),
        intro="**Prefixes**: enwik6 is the first 1,000,000 bytes of enwik8 and enwik8-3M the "
        "first 3,000,000 bytes. They are not enwik8 and their figures are not enwik8 figures.",
    ),
    Job(
        "enwik8",
        "enwik8 (the whole file)",
        targets=("enwik8",),
        full_only=True,
        intro="The whole of enwik8 (100,000,000 bytes), verified against its published checksums.",
    ),
    Job(
        "small",
        "Small files: the `llm` codec beside the others",
        targets=(
            "canterbury/grammar.lsp",
            "canterbury/xargs.1",
            "canterbury/fields.c",
            "canterbury/cp.html",
        ),
        methods=("llm", "fib", "zstd"),
        intro="The four smallest text files of the Canterbury corpus (3.7 to 24.6 KB), where a "
        "whole archive (header, chunk table, end record) is coded for each file: what a user "
        "compressing one small file gets. The `llm` column is the default model on this CPU.",
    ),
    Job("ratio", "llm compression ratio", script="bench_ratio.py"),
    Job("fib", "fib codec", script="bench_fib.py"),
    Job("logs", "logs codec", script="bench_logs.py"),
    Job("chunks", "llm chunk size vs ratio", script="bench_chunks.py"),
    Job("speed", "speed", script="bench_speed.py"),
    Job("ceiling", "model speed ceiling", script="bench_ceiling.py"),
]


def _ncz_command(job: Job, targets: list[str], args: argparse.Namespace) -> str:
    parts = ["ncz bench", *targets]
    if job.methods:
        parts.append("-m " + ",".join(job.methods))
    if args.peers != "all":
        parts.append(f"--peers {args.peers}")
    if args.min_time != 0.1:
        parts.append(f"--min-time {args.min_time}")
    return " ".join([*parts, "--markdown"])


def _available(name: str, manifest: corpora.Manifest, download: bool) -> str | None:
    """None when corpus `name` can be had (locally, or by download if allowed), else why not."""
    try:
        corpora.resolve(name, manifest, download=download)
    except NacrithError as exc:
        return str(exc)
    return None


def _planned_command(job: Job, args: argparse.Namespace) -> str:
    if job.script is not None:
        extra = shlex.split(args.extra.get(job.name, ""))
        return " ".join(["python", f"scripts/{job.script}", *map(shlex.quote, extra)])
    return _ncz_command(job, [*job.targets, *job.optional_targets], args)


def run_ncz_job(job: Job, args: argparse.Namespace) -> Outcome:
    """Run `ncz bench` in this process and write the job's section."""
    manifest = corpora.Manifest.load()
    targets, notes = list(job.targets), []
    for name in job.optional_targets:
        problem = _available(name, manifest, download=not args.dry_run)
        if problem is None:
            targets.append(name)
        else:
            notes.append(f"{name} left out: {problem}")
    command = _ncz_command(job, targets, args)
    if args.dry_run:
        return Outcome(job, "would run", command=command, notes=notes)
    start = time.monotonic()
    try:
        report = bench.bench(
            targets,
            methods=list(job.methods) or None,
            peers=bench.peer_list(args.peers),
            min_time=args.min_time,
            manifest=manifest,
        )
    except (NacrithError, OSError) as exc:
        return Outcome(job, f"failed: {exc}", time.monotonic() - start, command, notes=notes)
    report.notes.extend(notes)
    seconds = time.monotonic() - start
    body = f"## {job.title}\n\n{job.intro}\n\n{bench.render_markdown(report)}"
    benchmd.update_section(f"bench-{job.name}", body, command=command)
    status = "ok" if not report.failures() else f"{len(report.failures())} round trip(s) FAILED"
    return Outcome(job, status, seconds, command, report, notes)


def run_script_job(job: Job, args: argparse.Namespace) -> Outcome:
    """Run `scripts/<job.script>` as a subprocess (it writes its own section)."""
    assert job.script is not None
    path = SCRIPTS / job.script
    extra = shlex.split(args.extra.get(job.name, ""))
    command = _planned_command(job, args)
    if not path.exists():
        return Outcome(job, "not run: script does not exist yet", command=command)
    if args.dry_run:
        return Outcome(job, "would run", command=command)
    start = time.monotonic()
    print(f"bench_all: {command}", file=sys.stderr, flush=True)
    try:
        done = subprocess.run([sys.executable, str(path), *extra], timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return Outcome(job, f"timed out after {args.timeout} s", args.timeout, command)
    status = "ok" if done.returncode == 0 else f"failed (exit status {done.returncode})"
    return Outcome(job, status, time.monotonic() - start, command)


def _summary_tables(outcomes: list[Outcome]) -> str:
    rows = []
    for outcome in outcomes:
        seconds = "-" if outcome.seconds is None else f"{outcome.seconds:,.0f}"
        rows.append(
            f"| {outcome.job.name} | `{outcome.command}` | "
            f"{'; '.join([outcome.status, *outcome.notes])} | {seconds} "
            f"| {outcome.job.section} |"
        )
    jobs = "| job | command | status in this run | seconds | section |\n|---|---|---|---:|---|\n"
    text = jobs + "\n".join(rows) + "\n"
    measured = [o for o in outcomes if o.report is not None]
    if not measured:
        return text
    names: list[str] = []
    ran = {r.method for o in measured for r in o.report.results}  # type: ignore[union-attr]
    for outcome in measured:
        for contender in outcome.report.contenders:  # type: ignore[union-attr]
            if contender.name in ran and contender.name not in names:
                names.append(contender.name)
    lines = []
    for outcome in measured:
        report = outcome.report
        assert report is not None
        totals = {t.method: t for t in report.totals() if t.error is None}
        size = sum(f.size for f in report.files)
        label = f"{outcome.job.name}: {', '.join(f.label for f in report.files)}"
        if len(report.files) > 3:
            label = f"{outcome.job.name} ({len(report.files)} files)"
        cells = [f"{totals[m].bpb:.3f}" if m in totals and totals[m].bpb else "-" for m in names]
        lines.append(f"| {label} | {size:,} | " + " | ".join(cells) + " |")
    header = "| corpus | bytes | " + " | ".join(names) + " |\n"
    header += "|---|---:|" + "---:|" * len(names) + "\n"
    return (
        text + "\nBits per byte over each corpus (all its files together; lower is better; every "
        "round trip verified unless the status says otherwise):\n\n"
        + header
        + "\n".join(lines)
        + "\n"
    )


def _ensure_summary_first() -> None:
    """Put an empty summary section right under the title, so it stays at the top."""
    path = benchmd.BENCHMARKS
    text = path.read_text() if path.exists() else benchmd.HEADER
    if f"<!-- BEGIN {SUMMARY} -->" in text:
        return
    placeholder = f"<!-- BEGIN {SUMMARY} -->\n<!-- END {SUMMARY} -->\n"
    head, _sep, tail = text.partition("\n\n")  # the title, then everything else
    if text.startswith(benchmd.HEADER):
        head, tail = benchmd.HEADER.rstrip("\n"), text[len(benchmd.HEADER) :].lstrip("\n")
    path.write_text(f"{head}\n\n{placeholder}\n{tail}".rstrip("\n") + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    names = [job.name for job in JOBS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help=f"comma-separated jobs to run: {names}")
    parser.add_argument("--skip", default="", help="comma-separated jobs to leave out")
    parser.add_argument("--full", action="store_true", help="also run the whole of enwik8")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per script job")
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar='JOB="ARGS"',
        help="extra arguments for a script job, e.g. ratio='--limit 100000'",
    )
    parser.add_argument("--peers", default="all", help="peers for the ncz bench jobs")
    parser.add_argument("--min-time", type=float, default=0.1, help="ncz bench --min-time")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    args = parser.parse_args(argv)
    args.only_set = {n for n in args.only.split(",") if n}
    args.skip_set = {n for n in args.skip.split(",") if n}
    unknown = (args.only_set | args.skip_set) - set(names)
    if unknown:
        parser.error(f"unknown job(s) {sorted(unknown)}; jobs: {names}")
    args.extra = {}
    for item in args.args:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            parser.error(f"--args takes JOB=ARGS with JOB one of {names}")
        args.extra[name] = value
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected jobs, write their sections and the summary; 1 if any job failed."""
    args = parse_args(argv)
    outcomes = []
    for job in JOBS:
        if (args.only_set and job.name not in args.only_set) or job.name in args.skip_set:
            outcomes.append(
                Outcome(job, "skipped; earlier section kept", command=_planned_command(job, args))
            )
            continue
        if job.full_only and not args.full:
            outcomes.append(
                Outcome(
                    job,
                    "not run (needs --full); earlier section kept",
                    command=_planned_command(job, args),
                )
            )
            continue
        runner = run_ncz_job if job.script is None else run_script_job
        outcome = runner(job, args)
        outcomes.append(outcome)
        if not args.dry_run:
            print(f"bench_all: {job.name}: {outcome.status}", file=sys.stderr, flush=True)
    summary = _summary_tables(outcomes)
    if args.dry_run:
        print(summary)
        return 0
    _ensure_summary_first()
    body = (
        "## Summary\n\nAll figures in this file come from the scripts in `scripts/`; this "
        "section lists what the last `scripts/bench_all.py` run did.\n\n" + summary
    )
    command = "python " + " ".join(
        ["scripts/bench_all.py", *map(shlex.quote, argv or sys.argv[1:])]
    )
    benchmd.update_section(SUMMARY, body, command=command)
    failed = [
        o for o in outcomes if o.status.startswith(("failed", "timed out")) or "FAILED" in o.status
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
