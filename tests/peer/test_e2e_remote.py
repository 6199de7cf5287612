"""The whole loop on a real model: scripts/e2e-remote, checked through its summary.

    MSTAR_BIN=.build/release/mstar python3 -m pytest -q -p no:cacheprovider tests/peer/test_e2e_remote.py

A tiny LLaVA is built and warmed up with TRL, served by HF `transformers serve` with no pinned model, and evolved
for three iterations by `mstar run` with `backend remote --reload by-path` and `trainer trl`: each iteration
samples from the server, trains the served model with scripts/trainers/trl_sft.py (resuming the last iteration's
checkpoint) and names the new model directory in the next requests. The script checks the run itself (its
summary's `checks`); this test runs it once and asserts the same properties again from the numbers it reports,
so a check that was weakened in the script still fails here. About 2 to 3 minutes on 2 CPU cores.
Skipped where torch, transformers[serving], TRL, accelerate, datasets or pillow is missing.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

for module in ("torch", "transformers", "trl", "accelerate", "datasets", "PIL", "fastapi", "uvicorn"):
    pytest.importorskip(module)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pty"))
from conftest import mstar_binary  # noqa: E402

ITERATIONS = 3


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e-remote")
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "e2e-remote"), "--work", str(work),
                        "--mstar", mstar_binary(), "--iterations", str(ITERATIONS)],
                       capture_output=True, text=True, timeout=1200, env=dict(os.environ))
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must be one JSON line:\n{p.stdout[-2000:]}\nstderr:\n{p.stderr[-6000:]}"
    summary = json.loads(lines[0])
    assert p.returncode == (0 if summary["ok"] else 1)
    assert summary["ok"], f"{summary['failed_stage']}: {summary['error']}\n{p.stderr[-6000:]}"
    print("e2e-remote seconds:", summary["seconds"])
    return summary, work


def test_every_stage_passed_and_the_run_has_its_iterations(e2e):
    summary, _ = e2e
    assert summary["failed_stage"] is None and summary["error"] is None
    assert all(summary["checks"].values()), summary["checks"]
    assert summary["iterations"] == ITERATIONS
    for key in ("samples", "correct", "selected", "greedy_acc", "pass_at_k"):
        assert len(summary[key]) == ITERATIONS, key
    # K 4 samples of each of the iteration's items; some right, and the right ones selected (deduplicated)
    assert all(s > 0 and s % 4 == 0 for s in summary["samples"])
    assert all(0 < sel <= c <= s for s, c, sel in zip(summary["samples"], summary["correct"], summary["selected"]))
    assert all(0 <= g <= 1 and 0 <= p <= 1 for g, p in zip(summary["greedy_acc"], summary["pass_at_k"]))
    assert set(summary["seconds"]) >= {"model", "dataset", "warmup", "build", "serve", "loop", "check", "total"}


def test_the_warmed_model_answers_in_the_chain_format_through_the_server(e2e):
    summary, _ = e2e
    check = summary["serve_check"]
    assert check["listed"] and check["parsed"] >= check["samples"] / 2
    assert 0 < check["right"] < check["samples"]  # answers by chance, not all right: the loop has work to do
    assert "The answer is" in check["example"]
    assert summary["warmup"]["last_loss"] < summary["warmup"]["first_loss"]


def test_each_iteration_trained_and_resumed_the_last_one(e2e):
    summary, work = e2e
    steps = summary["trainer_steps"]
    assert len(steps) == ITERATIONS and all(s >= 1 for s in steps)
    # the step counter continues: each call starts where the last one's checkpoint ended
    assert summary["global_steps"] == [sum(steps[:i + 1]) for i in range(ITERATIONS)]
    checkpoints = [pathlib.Path(c) for c in summary["checkpoints"]]
    assert [c.name for c in checkpoints] == [f"checkpoint-{g}" for g in summary["global_steps"]]
    for checkpoint, model in zip(checkpoints, summary["models"]):
        assert (checkpoint / "optimizer.pt").is_file() and (checkpoint / "scheduler.pt").is_file()
        assert (pathlib.Path(model) / "config.json").is_file() and (pathlib.Path(model) / "model.safetensors").is_file()
    records = [json.loads(line) for line in (work / "run" / "trainer.jsonl").read_text().splitlines()]
    assert records[0].get("resume") in (None, "")
    assert [r["resume"] for r in records[1:]] == [str(c) for c in checkpoints[:-1]]
    assert all("--resume" in r["command"] for r in records[1:])


def test_the_learning_rate_continues_across_iterations(e2e):
    """A linear schedule over the whole run's max_steps: every step's LR below the last one's by the same amount,
    across the iteration boundaries too (a restarted schedule would jump back up at the start of iteration 2)."""
    summary, _ = e2e
    lrs = summary["learning_rates"]
    assert [len(r) for r in lrs] == summary["trainer_steps"]
    for earlier, later in zip(lrs, lrs[1:]):
        assert later[0] < earlier[-1]
    flat = sum(lrs, [])
    drops = [a - b for a, b in zip(flat, flat[1:])]
    assert all(d > 0 for d in drops)
    assert max(drops) == pytest.approx(min(drops), rel=1e-6)
    # the schedule's own numbers: peak lr at step 1, falling by lr / max_steps per step
    max_steps = summary["trainer_config"]["max_steps"]
    assert flat[0] == pytest.approx(2e-3) and drops[0] == pytest.approx(2e-3 / max_steps)


def test_after_each_iteration_the_server_ran_the_new_model(e2e):
    """The server's own request log (one line per request, with the model it ran): the warmed model's requests,
    then each iteration's model in turn, never an older one again."""
    summary, _ = e2e
    warmed = summary["warmup"]["model"]
    models = summary["models"]
    assert len(set(models)) == ITERATIONS and warmed not in models
    assert summary["served_models"] in ([warmed, *models[:-1]], [warmed, *models])
    assert all(summary["requests_per_model"][m] > 0 for m in summary["served_models"])


def test_it_takes_minutes_not_more(e2e):
    summary, _ = e2e
    # 2 to 3 minutes on 2 cores without the build; a generous bound, so a slow CI machine does not fail it
    assert summary["seconds"]["total"] - summary["seconds"]["build"] < 600
