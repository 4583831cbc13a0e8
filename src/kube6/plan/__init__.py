"""Address planning: a pure function from the spec to a Plan, with named rules."""

from kube6.plan.model import Plan
from kube6.plan.planner import make_plan

__all__ = ["Plan", "make_plan"]
