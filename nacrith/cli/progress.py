"""Progress of one input on stderr: a bar that moves with every token the model codes, one
line with the estimate before a long compression, and a watch on a closed pipe.

The pipeline reports each finished chunk; the `llm` codec's lockstep loop reports each step
(`nacrith.models.llm.lockstep.reporting_steps`) in input bytes, so the bar moves between
chunks too. The estimate is measured: the speed over the first seconds of coding.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import sys
import time
from collections.abc import Iterator

import click

from nacrith.progress import progress_bar

__all__ = ["Progress", "pipe_reader_gone"]

#: seconds of coding measured before the estimate
ESTIMATE_AFTER = 5.0
#: jobs expected to take longer than this (seconds) get the estimate line
LONG_JOB = 60.0
#: seconds between two checks that the reader of a pipe output is still there
PIPE_CHECK_EVERY = 0.5


def pipe_reader_gone(fd: int) -> bool:
    """Whether `fd` is a pipe whose reading end was closed (writing would fail with EPIPE)."""
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever the mask
    return any(event & select.POLLERR for _fd, event in poller.poll(0))


def _duration(seconds: float) -> str:
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


class Progress:
    """The progress of one input.

    `show`: not quieted. A bar is drawn when stderr is a terminal; `hint` (what would be
    faster), when given with a known `total`, is printed with the estimate before a job
    expected to take more than `LONG_JOB` seconds, where stderr is a terminal or `explain`
    (-v). `watch_fd`: the output's descriptor, checked now and then so that a closed pipe
    ends the run before the next chunk is finished.
    """

    def __init__(
        self,
        show: bool,
        total: int | None,
        desc: str,
        *,
        explain: bool = False,
        hint: str | None = None,
        watch_fd: int | None = None,
    ) -> None:
        terminal = show and sys.stderr is not None and sys.stderr.isatty()
        self.bar = progress_bar(total, desc) if terminal else None
        self.total = total
        self.desc = desc
        self.hint = hint if show and (terminal or explain) and total else None
        self.watch_fd = watch_fd
        self.done = 0  # bytes of finished chunks
        self.pending = 0.0  # bytes the model has coded in chunks not finished yet
        self.shown = 0
        self.first: tuple[float, int] | None = None
        self.next_check = 0.0

    def __call__(self, done: int) -> None:
        """`done` more input bytes are in finished chunks (called by the pipeline)."""
        self.done += done
        self.pending = max(0.0, self.pending - done)
        self._moved()

    def step(self, amount: float) -> None:
        """The model coded tokens standing for `amount` input bytes (the lockstep hook)."""
        self.pending += amount
        self._moved()

    @contextlib.contextmanager
    def model_steps(self) -> Iterator[None]:
        """Within the block, the `llm` codec's steps move this progress."""
        from nacrith.models.llm.lockstep import reporting_steps

        with reporting_steps(self.step):
            yield

    def _moved(self) -> None:
        position = self.done + int(self.pending)
        if self.total is not None:
            position = min(position, self.total)
        if position > self.shown:
            if self.bar is not None:
                self.bar.update(position - self.shown)
            self.shown = position
        now = time.monotonic()
        if self.hint is not None:
            self._estimate(now, position)
        if self.watch_fd is not None and now >= self.next_check:
            self.next_check = now + PIPE_CHECK_EVERY
            if pipe_reader_gone(self.watch_fd):
                raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def _estimate(self, now: float, position: int) -> None:
        if self.first is None:
            self.first = (now, position)
            return
        start, at = self.first
        if now - start < ESTIMATE_AFTER or position <= at or self.total is None:
            return
        rate = (position - at) / (now - start)
        left = (self.total - position) / rate
        hint, self.hint = self.hint, None
        if left > LONG_JOB:
            self.say(
                f"ncz: {self.desc}: about {_duration(left)} to go at {rate / 1024:.2f} KiB/s; "
                f"{hint}"
            )

    def say(self, line: str) -> None:
        """Print `line` on stderr without breaking the bar."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        """Close the bar, if any."""
        if self.bar is not None:
            self.bar.close()
