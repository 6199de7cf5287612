"""Shared fixtures for the pseudo-terminal tests: the mstar binary and a fresh working folder."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def mstar_binary():
    """$MSTAR_BIN, else the release build, else the debug build."""
    if os.environ.get("MSTAR_BIN"):
        return os.environ["MSTAR_BIN"]
    for config in ("release", "debug"):
        path = ROOT / ".build" / config / "mstar"
        if path.exists():
            return str(path)
    pytest.fail("no mstar binary: run `swift build -c release` (scripts/test does) or set MSTAR_BIN")


@pytest.fixture
def mstar():
    return mstar_binary()


@pytest.fixture
def workdir(tmp_path):
    """A working folder with its own history file; commands run there."""
    (tmp_path / "home").mkdir()
    env = dict(os.environ)
    env.update({
        "HOME": str(tmp_path / "home"),
        "MSTAR_HISTORY": str(tmp_path / "history"),
        "MSTAR_TEST_COMMANDS": "1",
        "MSTAR_DIGITS": str(ROOT / "data" / "digits.csv.gz"),
        "TERM": "xterm",
    })
    env.pop("DISPLAY", None)
    return tmp_path, env
