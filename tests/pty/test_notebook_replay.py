"""A recorded notebook is a regression test: with the portable numerics it replays to every recorded
output on any x86-64 CPU with AVX2 and FMA (CI runs on a different one each time)."""
import subprocess

from conftest import ROOT


def test_inspecting_samples_replays_to_every_recorded_output(mstar, tmp_path):
    r = subprocess.run([mstar, "run", str(ROOT / "notebooks" / "inspecting-samples.mstar"), "--verify", "--quiet",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert r.returncode == 0, r.stderr
    assert "every recorded output matches" in r.stderr
