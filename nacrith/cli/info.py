"""`ncz info`: the members and chunks of archives (sizes, codecs, ratio); decodes nothing."""

from __future__ import annotations

import click

from nacrith.cli import options
from nacrith.cli.inputs import open_input
from nacrith.cli.output import stdout_sink
from nacrith.cli.report import add_verbosity, display, run_files
from nacrith.codecs.llm_params import engine_note
from nacrith.formats.container import iter_members


def _describe_archive(name: str, verbose: int) -> list[str]:
    """The lines `ncz info` prints for archive `name`."""
    stdout_sink()  # a closed stdout is an error, not silence
    source = open_input(name)
    try:
        details = []
        raw_total = 0
        by_codec: dict[str, list[int]] = {}
        members = 0
        for member in iter_members(source.handle):
            members += 1
            member_raw = 0
            for index, record in enumerate(member.chunks):
                member_raw += record.raw_size
                stats = by_codec.setdefault(record.codec_id, [0, 0, 0])
                stats[0] += 1
                stats[1] += record.raw_size
                stats[2] += record.coded_size
                if verbose:
                    details.append(
                        f"  member {members} chunk {index}: {record.codec_id:7s} "
                        f"{record.raw_size:>12} -> {record.coded_size:>12}"
                    )
            expanded = member.reader.original_size if member.long_range else None
            raw_total += member_raw if expanded is None else expanded
            if verbose:
                details.append(
                    f"  member {members}: container version {member.reader.version}"
                    + (
                        f", long-range stream of {member_raw} bytes -> {expanded} bytes"
                        if member.long_range
                        else ""
                    )
                )
                for codec_id, params in sorted(member.codec_params.items()):
                    details.append(f"  member {members} {codec_id} params: {params}")
                    if codec_id == "llm":
                        details.append(f"  member {members} llm {engine_note(params)}")
    finally:
        source.close()
    archive_size = source.size or 0
    bpb = 8 * archive_size / raw_total if raw_total and archive_size else 0.0
    lines = [
        f"{display(name)}: {members} member(s), {raw_total} bytes -> {archive_size} bytes"
        + (f", {bpb:.4f} bits/byte" if bpb else "")
    ]
    for codec_id, (count, raw, coded) in sorted(by_codec.items()):
        lines.append(f"  {codec_id:7s} {count:>6} chunk(s) {raw:>12} -> {coded:>12} bytes")
    return lines + details


@click.command("info")
@options.file_args
@options.local_flags
@click.pass_context
def info_command(
    ctx: click.Context, files: tuple[str, ...], quiet_local: int, verbose_local: int
) -> None:
    """List the members and chunks of FILE.ncz... (sizes, codecs, ratio); decodes nothing."""
    _quiet, verbose = add_verbosity(ctx, quiet_local, verbose_local)

    def one(name: str) -> None:
        for line in _describe_archive(name, verbose):
            click.echo(line)

    run_files(ctx, files, one)
