"""`--watch`: verification rounds until all pass (a round is kube6.usecases.verify's).

results = watch(lambda: verify_round(plan, client), timeout=600, interval=10)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kube6.verify.fetch import ClusterUnreachableError
from kube6.verify.load_balancers import TcpConnect
from kube6.verify.outside import Connect, Resolve
from kube6.verify.result import CheckResult, all_ok, failed


@dataclass(frozen=True)
class OutsideIO:
    """How the from-outside checks resolve names and open TLS and TCP connections."""

    resolve: Resolve
    connect: Connect
    tcp: TcpConnect
    """LoadBalancer Services' ports (`load-balancer-reachable`)."""


def unreachable(exc: ClusterUnreachableError) -> list[CheckResult]:
    """A round that could not ask the API server, as one failed result."""
    return [failed("api-server", exc.message, exc.fix)]


def watch(
    round_: Callable[[], list[CheckResult]],
    *,
    timeout: float,
    interval: float,
    on_round: Callable[[int, list[CheckResult]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    """Run `round_` until every result passes or `timeout` seconds have gone; the last round.

    A round whose API server cannot be reached counts as a failed round (the cluster may still
    be coming up), not as an error.
    """
    deadline = clock() + timeout
    number = 0
    while True:
        number += 1
        try:
            results = round_()
        except ClusterUnreachableError as exc:
            results = unreachable(exc)
        if on_round is not None:
            on_round(number, results)
        if all_ok(results) or clock() + interval > deadline:
            return results
        sleep(interval)


def failing(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.failed]
