"""Set-up for child processes the tests start."""

import signal


def default_signals() -> None:
    """In the child: SIGINT and SIGTERM as a fresh process gets them. A suite started as a
    background job inherits SIGINT ignored, and Python keeps it ignored, so the CLI would
    never see a Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
