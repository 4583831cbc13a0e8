"""The lab tier's policy applies to the benchmarks' smoke tests too (root, packages, opt-out)."""

from tests.lab.conftest import lab_env

__all__ = ["lab_env"]
