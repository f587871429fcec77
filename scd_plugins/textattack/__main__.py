"""`python -m scd_plugins.textattack ...` = `scd-textattack ...`."""
import sys

from scd_plugins.textattack.cli import main

sys.exit(main())
