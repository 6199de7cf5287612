"""`--reload restart`, the reload that works with any server: after the trainer ran, mstar runs the trainer
configuration's `restart_command` on the new model directory and waits until the server answers again.

    MSTAR_BIN=.build/release/mstar python3 -m pytest -q -p no:cacheprovider tests/peer/test_restart_reload.py

The server is HF `transformers serve` pinned to a link, `served`, the way vLLM is pinned to a
`--served-model-name`: the restart script stops the running server, points the link at the new model and starts
the server again in the background (its own session, its output in its own log). The trainer is the `command`
trainer copying its start model (a real program; what it trains is not the point here), with iterative RFT, so
one step trains once and restarts once. The warmed-up model comes from scripts/e2e-remote's own stages, so that
some answers are right and something is selected. Skipped where torch, transformers[serving] or TRL is missing.
"""
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

for module in ("torch", "transformers", "trl", "accelerate", "datasets", "PIL", "fastapi", "uvicorn"):
    pytest.importorskip(module)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "pty"))
from conftest import mstar_binary  # noqa: E402
from tiny_llava_server import free_port, serve_command  # noqa: E402


def e2e_stages():
    """scripts/e2e-remote as a module: its model, dataset and warm-up stages."""
    loader = importlib.machinery.SourceFileLoader("e2e_remote", str(ROOT / "scripts" / "e2e-remote"))
    spec = importlib.util.spec_from_loader("e2e_remote", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def wait_healthy(port: int, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no server on port {port} after {timeout:.0f} s")


@pytest.fixture(scope="module")
def restarted(tmp_path_factory):
    work = tmp_path_factory.mktemp("restart")
    e2e = e2e_stages()
    base = e2e.build_model(work)
    e2e.make_data(work)
    warmed, _ = e2e.warm_up(work, base, e2e.TRAINER)
    port, served, pidfile = free_port(), work / "served", work / "server.pid"
    serve = " ".join(shlex.quote(w) for w in serve_command(str(served), port))
    restart = work / "restart.sh"
    restart.write_text(f"""#!/bin/sh
# Serves $1: stops the running server (its whole session), points {served} at $1, starts the server again.
set -e
if [ -f {pidfile} ]; then
  old=$(cat {pidfile})
  kill -s TERM -- "-$old" 2>/dev/null || true
  # uvicorn's graceful shutdown waits for open connections, and a client's keep-alive one may stay: 5 s, then KILL.
  n=0
  while kill -0 "$old" 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -eq 25 ]; then kill -s KILL -- "-$old" 2>/dev/null || true; fi
    sleep 0.2
  done
fi
ln -sfn "$1" {served}
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 setsid {serve} > "{work}/server-$(date +%s%N).log" 2>&1 < /dev/null &
echo $! > {pidfile}
""")
    subprocess.run(["sh", str(restart), str(warmed)], check=True)
    try:
        wait_healthy(port)
        (work / "trainer.json").write_text(json.dumps({
            "model": str(warmed),
            "command": "cp -R {model}/. {output}/",
            "restart_command": f"sh {shlex.quote(str(restart))} {{model}}",
        }))
        script = work / "restart.mstar"
        script.write_text("\n".join([
            "set seed 1",
            f"data load {work / 'dataset' / 'items.json'} --format mathvista --as e2e --validation 0.25 --test 0",
            f"backend remote --url http://127.0.0.1:{port}/v1 --model {served} --max-in-flight 2 --timeout 300 --reload restart",
            f"trainer command --config {work / 'trainer.json'}",
            "data use e2e",
            "set method iterative-rft",
            "set epochs 1",
            "set k 2",
            "set max_tokens 32",
            "set dynamics_prompts 2",
            "set dynamics_k 2",
            "step",
        ]) + "\n")
        p = subprocess.run([mstar_binary(), "run", str(script), "--out", str(work / "run"), "--allow-trainers", "--quiet"],
                           cwd=str(work), capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
        yield work, warmed, served, p
    finally:
        if pidfile.exists():
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


def test_the_server_is_restarted_on_the_trained_model(restarted):
    work, warmed, served, p = restarted
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    run = work / "run"
    journal = (run / "session.mstar").read_text()
    assert "the server is restarted on each trainer's model" in journal
    [record] = [json.loads(line) for line in (run / "trainer.jsonl").read_text().splitlines()]
    assert record["kind"] == "command" and record["carry"] == "fresh" and record["model_in"] == str(warmed)
    # The link now names the trained model, and a second server ran it: started by the restart command.
    assert os.readlink(served) == record["model"] == str(run / "trainer" / "step-1")
    logs = sorted(work.glob("server-*.log"))
    assert len(logs) == 2, logs
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in logs[1].read_text()
    # Every sample, before and after the restart, was answered.
    requests = [json.loads(line) for line in (run / "requests.jsonl").read_text().splitlines()]
    chats = [r for r in requests if r["endpoint"] == "chat/completions"]
    assert chats and all(r.get("error") is None or r["status"] == 422 for r in chats)
