"""Issue 15, defect 6: the `--output sh` script can be followed by hand.

Per host, one file; placeholders expand (and an unset one stops the script); the values are
set before use and the CA hash is computed, not described; what the script assumes is stated
and checked; `apt-get install` never runs before `apt-get update`; a fresh host gets
`systemctl enable ndppd` and `systemctl start ndppd`. The fill-in lines are run by /bin/sh here, not just read.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from kube6.cli.app import run as cli
from kube6.render.base import PLACEHOLDERS
from kube6.steps import Report, host_script

from .conftest import HA_SPEC


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    here = tmp_path_factory.mktemp("script")
    (here / "kube6.yaml").write_text(HA_SPEC)
    out = here / "out"
    argv = ["up", "-f", str(here / "kube6.yaml"), "--dry-run", "--fresh", "--script-dir", str(out)]
    assert cli(argv) == 0
    return {p.stem: p.read_text() for p in sorted(out.glob("*.sh"))}


def test_one_file_per_host_each_valid_shell(scripts: dict[str, str]) -> None:
    assert set(scripts) == {"cp1", "cp2", "w1", "w2"}
    for host, text in scripts.items():
        assert text.count("#!/bin/sh") == 1
        assert f"Run it as root on {host} only" in text
        subprocess.run(["sh", "-n"], input=text, text=True, check=True)


def test_stdout_takes_one_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kube6.yaml").write_text(HA_SPEC)
    assert cli(["up", "--dry-run", "--fresh", "-o", "sh"]) == 2
    assert "add --script-dir DIR for one file per node" in capsys.readouterr().err
    assert cli(["up", "--dry-run", "--fresh", "-o", "sh", "--node", "w1"]) == 0
    assert capsys.readouterr().out.count("#!/bin/sh") == 1


def test_every_value_is_set_before_use(scripts: dict[str, str]) -> None:
    for host, text in scripts.items():
        for marker in PLACEHOLDERS:
            name = marker[2:-1]
            uses = [i for i, line in enumerate(text.splitlines()) if f"|{marker}|g" in line]
            if not uses:
                continue
            sets = [
                i
                for i, line in enumerate(text.splitlines())
                if line.startswith(f"{name}=") or line.startswith(f': "${{{name}:?')
            ]
            assert sets, (host, name)
            assert min(sets) < min(uses), (host, name)
    # The CA hash is computed in the first control plane's script, not only described.
    assert re.search(r'^KUBE6_CA_CERT_HASH="\$\(openssl x509 ', scripts["cp1"], re.M)
    assert 'echo "export KUBE6_JOIN_TOKEN=$KUBE6_JOIN_TOKEN' in scripts["cp1"]


def test_placeholders_are_filled_when_run(scripts: dict[str, str], tmp_path: Path) -> None:
    """Run w1's join.yaml lines with /bin/sh (the file moved under tmp_path)."""
    lines = scripts["w1"].splitlines()
    start = lines.index("cat > /etc/kubernetes/kubeadm/join.yaml <<'KUBE6_EOF'")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("chmod 0600"))
    part = "\n".join(["set -eu", *lines[start - 1 : end + 1]]).replace("/etc/", f"{tmp_path}/")
    (tmp_path / "kubernetes" / "kubeadm").mkdir(parents=True)
    values = {"KUBE6_JOIN_TOKEN": "abcdef.0123456789abcdef", "KUBE6_CA_CERT_HASH": "ab" * 32}
    subprocess.run(["sh", "-c", part], env={**os.environ, **values}, check=True)
    written = (tmp_path / "kubernetes" / "kubeadm" / "join.yaml").read_text()
    assert "token: abcdef.0123456789abcdef" in written
    assert f"sha256:{'ab' * 32}" in written
    assert "${KUBE6_JOIN_TOKEN}" not in written
    assert (tmp_path / "kubernetes" / "kubeadm" / "join.yaml").stat().st_mode & 0o777 == 0o600
    # Unset: the script stops rather than writing an empty token.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE6_")}
    done = subprocess.run(["sh", "-c", part], env=env, capture_output=True, check=False)
    assert done.returncode != 0


def test_assumptions_are_stated_and_checked(scripts: dict[str, str], tmp_path: Path) -> None:
    text = scripts["w1"]
    # A --fresh script is written for one release (its package sources name it), and says so.
    assumed = "Ubuntu 24.04 (--fresh: the host was not read), amd64 or arm64, no swap"
    assert f"It assumes: {assumed}" in text
    lines = text.splitlines()
    start = lines.index(". /etc/os-release")
    guard = "\n".join(lines[start : lines.index("esac", start) + 1])
    for release, code in (("ubuntu 24.04", 0), ("debian 12", 1), ("ubuntu 22.04", 1)):
        distro, version = release.split()
        (tmp_path / "os-release").write_text(f"ID={distro}\nVERSION_ID={version}\n")
        part = guard.replace("/etc/os-release", str(tmp_path / "os-release"))
        done = subprocess.run(["sh", "-c", part], capture_output=True, text=True, check=False)
        assert done.returncode == code, (release, done.stderr)
        if code:
            assert f"{release} is not Ubuntu 24.04, which this --fresh script was written for" in (
                done.stderr
            )
    # A script of hosts that were read takes any supported release.
    general = host_script(Report([]), "w1")
    assert "It assumes: Debian 12/13 or Ubuntu 22.04/24.04, amd64 or arm64, no swap" in general
    assert '"debian 12"|"debian 13"|"ubuntu 22.04"|"ubuntu 24.04") ;;' in general
    assert 'case "$ID $VERSION_ID" in' in text
    assert "dpkg --print-architecture" in text
    assert "swapon --noheadings --show" in text
    assert 'ip -6 route show default | grep -q " dev eth0 "' in text


def test_apt_update_before_any_install_and_ndppd_started(scripts: dict[str, str]) -> None:
    for text in scripts.values():
        lines = text.splitlines()
        update = next(i for i, line in enumerate(lines) if "apt-get update" in line)
        install = next(i for i, line in enumerate(lines) if "apt-get install" in line)
        assert update < install
        enable, start = lines.index("systemctl enable ndppd"), lines.index("systemctl start ndppd")
        assert enable < start
