"""constraints.txt pins every runtime dependency of pyproject.toml, within its range, and
the Dockerfile installs with it: the image gets the versions the tests ran."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.compose import ROOT

CONSTRAINTS = ROOT / "constraints.txt"


def pins() -> dict[str, Version]:
    """``name -> version`` of every ``name==version`` line; AssertionError on any other form."""
    found: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"constraints.txt: {line!r} is not name==version"
        found[canonicalize_name(name)] = Version(version)
    return found


def dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def test_every_dependency_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in dependencies():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not pinned in constraints.txt"
        version = pinned[name]
        assert requirement.specifier.contains(version), f"{name}=={version} not {requirement}"
        for extra in requirement.extras:  # psycopg[binary] -> psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in pinned, f"{name}[{extra}] unpinned"


def test_pins_are_unique() -> None:
    lines = [line for line in CONSTRAINTS.read_text().splitlines() if "==" in line]
    assert len(lines) == len(pins())


def test_the_dockerfile_installs_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "constraints.txt" in dockerfile.split("COPY pyproject.toml", 1)[1].splitlines()[0]
    assert "pip install --constraint constraints.txt" in dockerfile
