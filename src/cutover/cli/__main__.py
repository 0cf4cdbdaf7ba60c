"""`python -m cutover.cli`: the `cutover` command, for tests and environments without the script."""

from __future__ import annotations

import sys

from cutover.cli import main

sys.exit(main())
