"""The `mirrors` and `host` sections: what is accepted, what is refused and how it is said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kube6 import mirrors, spec
from kube6.errors import SpecError

LAB = Path(__file__).resolve().parents[1] / "golden" / "mirrors-lab" / "kube6.yaml"
PEM = (
    (LAB.read_text().split("ca: |\n", 1)[1].split("-----END CERTIFICATE-----")[0]).replace(
        "        ", ""
    )
    + "-----END CERTIFICATE-----\n"
)
KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0000BYJKwYBBAHaRw8BAQdA\n=abcd\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
)


def with_mirrors(**section: Any) -> dict[str, Any]:
    return {
        "prefix": "2001:db8:1234:5678::/64",
        "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
        "mirrors": section,
    }


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        spec.from_data(data)
    return str(caught.value)


def test_the_lab_spec_parses_with_every_kind_of_mirror() -> None:
    lab = spec.load(LAB)
    assert [m.registry for m in lab.mirrors.registries] == [
        "registry.k8s.io",
        "docker.io",
        "quay.io",
        "ghcr.io",
    ]
    assert lab.mirrors.apt.kubernetes is not None
    assert lab.mirrors.acme.staging is not None
    assert lab.mirrors.acme.staging.ca == PEM
    assert lab.host.cgroup_v1
    assert lab.host.restrict_oom_score_adj


def test_defaults_are_off_and_empty() -> None:
    plain = spec.example()
    assert plain.mirrors == spec.Mirrors()
    assert plain.host == spec.Host()
    assert not plain.host.cgroup_v1
    assert not plain.host.restrict_oom_score_adj


def test_inline_apt_key_and_https_mirror_with_a_ca() -> None:
    data = with_mirrors(
        apt={"docker": {"url": "https://apt.example.com/docker/linux/debian", "key": KEY}},
        registries=[
            {"registry": "ghcr.io", "endpoints": [{"url": "https://cache.example.com", "ca": PEM}]}
        ],
    )
    parsed = spec.from_data(data)
    assert parsed.mirrors.apt.docker is not None
    assert parsed.mirrors.apt.docker.key == KEY


def test_distro_placeholder_in_the_distribution_repositories() -> None:
    data = with_mirrors(
        apt={
            "docker": {
                "url": "http://[2001:db8:ffff::10]:8080/docker/linux/{distro}",
                "key_url": "http://[2001:db8:ffff::10]:8080/docker/linux/{distro}/gpg",
            },
            "distribution": "http://[2001:db8:ffff::10]:8080/{distro}",
        }
    )
    apt = spec.from_data(data).mirrors.apt
    assert apt.docker is not None
    assert mirrors.for_distro(apt.docker.url, "ubuntu").endswith("/docker/linux/ubuntu")
    assert apt.distribution is not None
    assert (
        mirrors.for_distro(apt.distribution, "debian") == "http://[2001:db8:ffff::10]:8080/debian"
    )


@pytest.mark.parametrize(
    ("url", "distro", "named"),
    [
        ("http://m.example/linux/debian", "ubuntu", "debian"),
        ("http://m.example/linux/debian", "debian", None),
        ("http://m.example:3142/archive.ubuntu.com/ubuntu", "debian", "ubuntu"),
        ("http://m.example/linux/{distro}", "ubuntu", None),
        ("http://debian.example/archive", "ubuntu", None),  # only the path can tell
        ("http://m.example/mirror", "ubuntu", None),
    ],
)
def test_a_mirror_of_another_distribution_is_told(url: str, distro: str, named: str) -> None:
    assert mirrors.other_distro(url, distro) == named


def test_the_fix_puts_distro_where_the_distribution_was() -> None:
    url = "http://[2001:db8::1]:80/linux/debian/"
    assert mirrors.wrong_distro("mirrors.apt.docker.url", url, "debian") is None
    found = mirrors.wrong_distro("mirrors.apt.docker.url", url, "ubuntu")
    assert found is not None
    what, fix = found
    assert what == "mirrors.apt.docker.url (http://[2001:db8::1]:80/linux/debian/) is debian's"
    assert "'http://[2001:db8::1]:80/linux/{distro}/'" in fix


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "a quote in a URL": (
        {"downloads": [{"upstream": "https://get.helm.sh/", "mirror": "http://a.example/'x"}]},
        'mirrors.downloads[0].mirror: "http://a.example/\'x" is not an http(s) URL',
    ),
    "ftp": (
        {"downloads": [{"upstream": "ftp://get.helm.sh/", "mirror": "http://a.example/"}]},
        "is not an http(s) URL",
    ),
    "a bad IPv6 literal": (
        {"registries": [{"registry": "quay.io", "endpoints": [{"url": "http://[2001:db8::g]"}]}]},
        "mirrors.registries[0].endpoints[0].url",
    ),
    "no endpoint": (
        {"registries": [{"registry": "quay.io", "endpoints": []}]},
        "mirrors.registries[0].endpoints",
    ),
    "a registry twice": (
        {
            "registries": [
                {"registry": "quay.io", "endpoints": [{"url": "http://a.example"}]},
                {"registry": "quay.io", "endpoints": [{"url": "http://b.example"}]},
            ]
        },
        "registry quay.io is listed twice",
    ),
    "a registry with a scheme": (
        {
            "registries": [
                {"registry": "https://quay.io", "endpoints": [{"url": "http://a.example"}]}
            ]
        },
        "is not a registry host name",
    ),
    "no apt key": (
        {"apt": {"kubernetes": {"url": "http://a.example/apt/"}}},
        "give the repository's signing key as key_url or as key (one)",
    ),
    "two apt keys": (
        {
            "apt": {
                "kubernetes": {
                    "url": "http://a.example/",
                    "key_url": "http://a.example/k",
                    "key": KEY,
                }
            }
        },
        "key_url or as key (one)",
    ),
    "a key that is not armoured": (
        {"apt": {"kubernetes": {"url": "http://a.example/", "key": "binary"}}},
        "is not an ASCII-armoured OpenPGP public key",
    ),
    "a CA that is not PEM": (
        {"acme": {"staging": {"url": "https://acme.example/dir", "ca": "not a certificate"}}},
        "mirrors.acme.staging.ca: is not PEM text",
    ),
    "a chart source with a space": (
        {"charts": [{"upstream": "https://a.example/x y", "mirror": "oci://b.example/c"}]},
        "mirrors.charts[0].upstream",
    ),
    "a placeholder other than {distro}": (
        {"apt": {"distribution": "http://a.example/{release}"}},
        "mirrors.apt: distribution: 'http://a.example/{release}' has braces other than "
        "{distro}, the only placeholder",
    ),
    "{distro} in the host": (
        {"apt": {"docker": {"url": "http://{distro}.example/linux", "key_url": "http://a/k"}}},
        "docker.url: 'http://{distro}.example/linux' is not an http(s) URL",
    ),
    "{distro} in the Kubernetes mirror": (
        {"apt": {"kubernetes": {"url": "http://a.example/{distro}/", "key": KEY}}},
        "pkgs.k8s.io serves the same packages to every distribution",
    ),
    "an unknown key": ({"registry": []}, "did you mean 'registries'?"),
    "an unknown ACME directory": (
        {"acme": {"letsencrypt": {"url": "https://a.example/dir"}}},
        "valid keys here: staging, production",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_mirrors_say_where_and_why(case: str) -> None:
    section, expected = REFUSED[case]
    assert expected in problems(with_mirrors(**section))


def test_host_settings_are_strict_switches() -> None:
    data = with_mirrors()
    data["host"] = {"cgroup_v1": "yes"}
    assert "host.cgroup_v1" in problems(data)
    data["host"] = {"cgroupv1": True}
    assert "did you mean 'cgroup_v1'?" in problems(data)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("15%", "is a share of the disk; give an amount such as '10Gi'"),
        ("10G", "is not a disk size: a whole number with Mi, Gi or Ti"),
        ("1.5Gi", "is not a disk size"),
        ("50Mi", "is less than 100Mi"),
        (10, "a disk size must be text"),
    ],
)
def test_min_free_disk_is_an_amount(given: object, expected: str) -> None:
    data = with_mirrors()
    data["host"] = {"min_free_disk": given}
    found = problems(data)
    assert "host.min_free_disk" in found
    assert expected in found


def test_min_free_disk_takes_binary_units() -> None:
    data = with_mirrors()
    data["host"] = {"min_free_disk": "512Mi"}
    assert spec.from_data(data).host.min_free_disk == "512Mi"
    assert spec.example().host.min_free_disk is None


def test_schema_documents_the_sections() -> None:
    schema = spec.json_schema()
    defs = schema["$defs"]
    assert "registries" in defs["Mirrors"]["properties"]
    assert "hosts.toml" in defs["Mirrors"]["properties"]["registries"]["description"]
    assert "failCgroupV1" in defs["Host"]["properties"]["cgroup_v1"]["description"]


def test_download_url_takes_the_longest_prefix() -> None:
    found = spec.from_data(
        with_mirrors(
            downloads=[
                {"upstream": "https://github.com/", "mirror": "http://m.example/gh/"},
                {
                    "upstream": "https://github.com/kubernetes-sigs/",
                    "mirror": "http://m.example/sigs/",
                },
            ]
        )
    ).mirrors
    assert (
        mirrors.download_url(found, "https://github.com/kubernetes-sigs/gateway-api/x.yaml")
        == "http://m.example/sigs/gateway-api/x.yaml"
    )
    assert mirrors.download_url(found, "https://github.com/a/b") == "http://m.example/gh/a/b"
    assert mirrors.download_url(found, "https://get.helm.sh/h.tgz") == "https://get.helm.sh/h.tgz"


def test_chart_sources_through_oci_and_repository_mirrors() -> None:
    found = spec.from_data(
        with_mirrors(
            charts=[
                {
                    "upstream": "https://docs.tigera.io/calico/charts",
                    "mirror": "oci://[2001:db8:ffff::10]:5000/charts",
                    "plain_http": True,
                },
                {"upstream": "oci://quay.io/jetstack/charts", "mirror": "https://charts.example/"},
                {
                    "upstream": "oci://docker.io/envoyproxy",
                    "mirror": "oci://r.example/ep",
                    "ca": PEM,
                },
            ]
        )
    ).mirrors
    calico = mirrors.chart_source(found, "tigera-operator", "https://docs.tigera.io/calico/charts")
    assert (calico.chart, calico.repo, calico.flags) == (
        "oci://[2001:db8:ffff::10]:5000/charts/tigera-operator",
        None,
        ("--plain-http",),
    )
    cm = mirrors.chart_source(found, "oci://quay.io/jetstack/charts/cert-manager", None)
    assert (cm.chart, cm.repo) == ("cert-manager", "https://charts.example/")
    envoy = mirrors.chart_source(found, "oci://docker.io/envoyproxy/gateway-helm", None)
    assert envoy.chart == "oci://r.example/ep/gateway-helm"
    assert envoy.ca == PEM
    untouched = mirrors.chart_source(
        found, "headlamp", "https://kubernetes-sigs.github.io/headlamp/"
    )
    assert (untouched.chart, untouched.repo, untouched.mirror) == (
        "headlamp",
        "https://kubernetes-sigs.github.io/headlamp/",
        None,
    )


def test_init_documents_mirrors_and_host_in_comments_that_parse_when_uncommented() -> None:
    from ipaddress import IPv6Network

    from kube6.init import InitAnswers, parse_node_flag, render_text

    answers = InitAnswers(
        prefix=IPv6Network("2001:db8:1234:5678::/64"),
        nodes=(parse_node_flag("n1=2001:db8:1234:5678::1", first=True),),
    )
    text = render_text(answers)
    head, block = text.split("# mirrors:\n", 1)
    assert spec.parse_text(text).mirrors == spec.Mirrors()  # commented out: nothing changes
    uncommented = "mirrors:\n" + "\n".join(
        line[2:] for line in block.splitlines() if line.startswith(("#   ", "# host:"))
    )
    parsed = spec.parse_text(head + uncommented + "\n")
    assert parsed.mirrors.registries[0].registry == "ghcr.io"
    assert parsed.mirrors.apt.kubernetes is not None
    assert parsed.mirrors.acme.staging is not None
    assert parsed.host == spec.Host()
