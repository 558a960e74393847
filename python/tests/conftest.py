# Shared set-up of the Python tests: run with PYTHONPATH=<build>/python (the
# CTests ntp-python-* set it, and NTP_CACHE_DIR to a cache inside the build).
import os
import sys

import pytest

ROOT = os.environ.get("NTP_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def need(module):
    """Imports `module` or skips the whole file, saying how to get it."""
    try:
        return __import__(module)
    except ImportError:
        pytest.skip("%s is not installed (apt-get install python3-%s; "
                    "scripts/dev.sh test installs it)" % (module, module),
                    allow_module_level=True)
