"""`load-balancer-reachable`: each TCP port of each LoadBalancer address, from where verify runs."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from kube6 import spec as spec_module
from kube6.modes import Grade
from kube6.plan import make_plan
from kube6.verify.load_balancers import check_reachable, tcp_connect
from tests.verify import fixtures as fx


def test_every_tcp_port_of_every_address_is_tried_and_a_refusal_fails() -> None:
    plan = make_plan(spec_module.example())
    lb = plan.load_balancers.cidr
    svc = fx.load_balancer("web", "shop", "2001:db8:1234:5678:8:3:0:20", str(lb[5]))
    svc["spec"]["ports"] = [
        {"port": 80, "protocol": "TCP"},
        {"port": 443},  # no protocol: TCP
        {"port": 53, "protocol": "UDP"},
    ]
    tried: list[tuple[IPv6Address, int]] = []

    def connect(address: IPv6Address, port: int) -> None:
        tried.append((address, port))
        if port == 443:
            raise ConnectionRefusedError(111, "Connection refused")

    services = fx.objects({"services": [svc]}).services
    (result,) = check_reachable(plan, services, connect)
    assert tried == [(lb[5], 80), (lb[5], 443)]
    assert result.grade is Grade.FAIL
    assert result.message == "1 of 2 LoadBalancer address:port(s) do not answer from here"
    assert "web/shop: UDP 53 not tested" in result.evidence
    assert f"a static rule for {lb} in /etc/ndppd.conf" in result.fix
    # The usual cause first, with the command that fixes it for this Service.
    assert result.fix.startswith(
        "kube6's policies keep a Service's pods closed until it is exposed: "
        "`kube6 expose web/shop`;"
    ), result.fix
    (result,) = check_reachable(plan, services, lambda address, port: None)
    assert result.grade is Grade.OK


def test_nothing_to_try_is_skipped_and_addresses_outside_the_range_are_not_tried() -> None:
    plan = make_plan(spec_module.example())
    svc = fx.load_balancer("web", "shop", "2001:db8:1234:5678:8:3:0:20", "2001:db8:1234:5678::77")

    def never(address: IPv6Address, port: int) -> None:
        raise AssertionError("no connection expected")

    (result,) = check_reachable(plan, fx.objects({"services": [svc]}).services, never)
    assert result.skipped


def test_tcp_connect_opens_a_real_connection_and_reports_a_refused_one() -> None:
    import socket

    with socket.socket(socket.AF_INET6) as server:
        server.bind(("::1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        tcp_connect(IPv6Address("::1"), port)
    with pytest.raises(ConnectionRefusedError):
        tcp_connect(IPv6Address("::1"), port, timeout=2)
