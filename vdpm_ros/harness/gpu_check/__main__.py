"""``python -m vdpm_ros.harness.gpu_check``: see the package docstring."""

import sys

from .runner import main

sys.exit(main())
