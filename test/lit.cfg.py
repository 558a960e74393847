# -*- Python -*-
# lit configuration of the ntp tests (check-ntp).

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "NTP"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ntp_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "reference", "unit", "lit.cfg.py"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["ntp-opt", "ntp-compile", "ntp-bench", "ntp-cost", "ntp-layers-bench",
     "ntp-burgers", "ntp-poisson", "ntp-showcase"], [config.ntp_tools_dir])

# <target>-registered-target for each LLVM backend this LLVM was built with
# (as in LLVM's own lit configuration): tests of another architecture's
# assembly (AArch64) REQUIRES it.
import subprocess

try:
    _targets = subprocess.run(
        [os.path.join(config.llvm_tools_dir, "llvm-config"), "--targets-built"],
        capture_output=True, text=True, check=False).stdout.split()
except OSError:
    _targets = []
for _target in _targets:
    config.available_features.add(_target.lower() + "-registered-target")
