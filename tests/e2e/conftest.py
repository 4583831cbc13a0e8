"""The e2e tier's fixtures: root and the lab's packages, as for the lab tier (fail, never skip,
unless KUBE6_SKIP_LAB=1 says so)."""

from tests.lab.conftest import lab_env

__all__ = ["lab_env"]
