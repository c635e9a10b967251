"""`python -m nacrith.cli`: the `ncz` command."""

import sys

from nacrith.cli import main

sys.exit(main())
