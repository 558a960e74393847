# Shared set-up of the Python tests: run with PYTHONPATH=<build>/python (the
# CTests ntp-python-* set it, and NTP_CACHE_DIR to a cache inside the build).
import os

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


def pytest_sessionfinish(session, exitstatus):
    """Everything skipped (torch or numpy missing): exit 77, which CTest
    reports as a skipped test (SKIP_RETURN_CODE) rather than a pass."""
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = tr.stats if tr is not None else {}
    if stats.get("skipped") and not any(
            stats.get(k) for k in ("passed", "failed", "error")):
        session.exitstatus = 77
