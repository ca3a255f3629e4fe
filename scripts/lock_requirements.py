"""constraints.txt: every transitive dependency of the project (with the `test` extra) pinned to one version.

    python scripts/lock_requirements.py --write   # pin what is installed now (after `pip install -e ".[test]"`)
    python scripts/lock_requirements.py --check   # CI: the lock matches pyproject.toml and the installed packages

The lock is the dependency closure of pyproject.toml's ``dependencies`` and ``test`` extra, walked through the
installed packages' metadata (markers evaluated for this interpreter: CPython 3.11 on Linux x86-64), so it pins
exactly the versions the tests ran with. Used as ``pip install -c constraints.txt -e ".[test]"`` (README, .ci/run).

``--check`` needs no network: it fails when a requirement declared in pyproject.toml is missing from the lock or
pinned outside its specifier, when the lock is not the closure of the installed packages (an entry missing or
left over: run ``--write`` after changing pyproject.toml), or when an installed version differs from its pin.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
EXTRAS = ("test",)
HEADER = """\
# Every transitive dependency of promotion_cnn (pyproject.toml, with the `test` extra), pinned.
# Written by `python scripts/lock_requirements.py --write` from the installed packages (CPython 3.11, Linux x86-64);
# checked by .ci/run (`--check`). Install with: pip install -c constraints.txt -e ".[test]"
"""


def declared(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        requirements += [Requirement(r) for r in project.get("optional-dependencies", {}).get(extra, [])]
    return requirements


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    environment = default_environment()
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def closure(roots: list[Requirement]) -> dict[str, str]:
    """Canonical name -> installed version, for the roots and everything they require (with their extras)."""
    pinned: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [(r, set()) for r in roots if _applies(r, set())]
    while queue:
        requirement, _ = queue.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"{requirement.name} is required but not installed: pip install -e '.[test]' first"
            ) from None
        pinned[name] = distribution.version
        for text in distribution.requires or []:
            child = Requirement(text)
            if _applies(child, set(requirement.extras)):
                queue.append((child, set()))
    return pinned


def read_lock(path: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def check(lock: dict[str, str], installed: dict[str, str], roots: list[Requirement]) -> list[str]:
    problems = []
    for requirement in roots:
        name = canonicalize_name(requirement.name)
        if name not in lock:
            problems.append(f"{requirement} is declared in pyproject.toml but not pinned in constraints.txt")
        elif not requirement.specifier.contains(lock[name], prereleases=True):
            problems.append(f"{requirement} is declared but constraints.txt pins {name}=={lock[name]}")
    problems += [
        f"{name}=={version} is required but not in constraints.txt"
        for name, version in sorted(installed.items())
        if name not in lock
    ]
    problems += [
        f"{name}=={lock[name]} is pinned but nothing requires it any more"
        for name in sorted(lock)
        if name not in installed
    ]
    problems += [
        f"{name} is installed at {installed[name]} but pinned at {lock[name]}"
        for name in sorted(lock)
        if name in installed and installed[name] != lock[name]
    ]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true")
    action.add_argument("--check", action="store_true")
    args = parser.parse_args()
    roots = declared()
    installed = closure(roots)
    installed.pop(canonicalize_name("promotion_cnn"), None)
    if args.write:
        LOCK.write_text(HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(installed.items())))
        print(f"{LOCK.name}: {len(installed)} packages pinned")
        return 0
    problems = check(read_lock(), installed, roots)
    for problem in problems:
        print(f"constraints.txt: {problem}", file=sys.stderr)
    if not problems:
        print(f"constraints.txt matches pyproject.toml and the installed packages ({len(installed)} pins)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
