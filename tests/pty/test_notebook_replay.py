"""A recorded notebook is a regression test: with the portable numerics it replays to every recorded
output on any x86-64 CPU with AVX2 and FMA (CI runs on a different one each time)."""
import subprocess

from conftest import ROOT


def test_inspecting_samples_replays_to_every_recorded_output(mstar, tmp_path):
    r = subprocess.run([mstar, "run", str(ROOT / "notebooks" / "inspecting-samples.mstar"), "--verify", "--quiet",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert r.returncode == 0, r.stderr
    assert "every recorded output matches" in r.stderr


def test_the_remote_notebook_replays_against_mstar_serve(mstar, tmp_path):
    """notebooks/remote.mstar samples from `mstar serve` on the port its backend line names and
    hands it the trained weights; replayed, every recorded output matches."""
    import socket
    import time
    import urllib.request
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 8731)) != 0, "port 8731 is taken; notebooks/remote.mstar needs it free"
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([mstar, "serve", str(ROOT / "checkpoints" / "pre-evolved"), "--port", "8731", "--threads", "1"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:8731/health", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        r = subprocess.run([mstar, "run", str(ROOT / "notebooks" / "remote.mstar"), "--verify", "--quiet",
                            "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=str(ROOT), timeout=600)
        assert r.returncode == 0, r.stderr
        assert "every recorded output matches" in r.stderr
        assert (tmp_path / "run" / "served-policy" / "model.safetensors").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
