"""Training by hand-off to TRL: scripts/trainers/trl_sft.py on a tiny LLaVA, iteration after iteration.

    python3 -m pytest -q -p no:cacheprovider tests/peer/test_trl_handoff.py

Continuous self-evolving training resumes each iteration from the last one's checkpoint on new data. The HF
Trainer restores optimizer, scheduler, RNG and global step, but rebuilds the LR schedule from the call's
max_steps, so the driver gets the whole run's --max-steps every time. Checked here: the step counter and the
linear decay continue into iteration 2; the same call without --max-steps jumps back up (the negative control);
resuming on the same data reproduces one uninterrupted call loss for loss (optimizer, RNG and weights really
are restored); the saved model loads, generates and is served by `transformers serve`.
Skipped where torch, transformers, trl, accelerate or datasets is missing.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

for module in ("torch", "transformers", "trl", "accelerate", "datasets", "PIL"):
    pytest.importorskip(module)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DRIVER = ROOT / "scripts" / "trainers" / "trl_sft.py"
IMAGE = ROOT / "Tests" / "Fixtures" / "datasets" / "mathvista" / "images" / "1.png"
sys.path.insert(0, str(HERE))
from tiny_llava_server import TinyLlavaServer, build_tiny_llava  # noqa: E402

EXAMPLES, BATCH = 8, 2
STEPS_PER_ITERATION = EXAMPLES // BATCH  # one pass over an iteration's data
ITERATIONS = 3
MAX_STEPS = ITERATIONS * STEPS_PER_ITERATION  # the whole run's horizon, fixed at iteration 1
LR = 1e-3


def linear_lr(step: int, horizon: int) -> float:
    """The LR HF's linear schedule (no warm-up) gives optimizer step `step` (1-based) of a `horizon`-step run."""
    return LR * (horizon - (step - 1)) / horizon


def write_folder(path: pathlib.Path, pairs) -> pathlib.Path:
    """A folder in the layout `mstar selection export --format trl` writes: train.jsonl + images/."""
    (path / "images").mkdir(parents=True)
    shutil.copy(IMAGE, path / "images" / "1.png")
    with open(path / "train.jsonl", "w") as out:
        for question, response in pairs:
            out.write(json.dumps({
                "messages": [
                    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
                    {"role": "assistant", "content": [{"type": "text", "text": response}]},
                ],
                "images": ["images/1.png"],
            }) + "\n")
    return path


# One thread each: the same arithmetic in every call (the loss-for-loss comparison needs it), and the calls of
# a wave below run side by side on a small machine without fighting over cores.
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
           OMP_NUM_THREADS="1")


def start_driver(*args: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV)
    process.started = time.monotonic()
    return process


def finish(process: subprocess.Popen, expect_ok: bool = True) -> dict:
    """Waits for a driver call; its stdout must be JSON lines, log events then one done event."""
    stdout, stderr = process.communicate(timeout=180)
    result = {"rc": process.returncode, "stdout": stdout, "stderr": stderr,
              "seconds": time.monotonic() - process.started}
    if expect_ok:
        assert process.returncode == 0, stderr[-4000:]
        events = [json.loads(line) for line in stdout.splitlines()]
        result["logs"] = [event for event in events if event["event"] == "log"]
        assert events[-1]["event"] == "done" and len(result["logs"]) == len(events) - 1
        result["done"] = events[-1]
    return result


def train_args(model, data, output, *extra) -> list[str]:
    return ["--model", str(model), "--data", str(data), "--output", str(output), "--learning-rate", str(LR),
            "--batch-size", str(BATCH), "--seed", "0", "--lr-scheduler", "linear", *extra]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Builds the tiny LLaVA and two iterations' data, then makes every driver call the tests look at, in two
    waves of independent calls (most of a call is importing torch, transformers and TRL)."""
    tmp = tmp_path_factory.mktemp("trl-handoff")
    base = tmp / "tiny-llava"
    build_tiny_llava(base)
    first = write_folder(tmp / "iteration-1", [
        (f"what is {a} + {b} ?", f"read {a} {b} ; answer {a + b}") for a, b in zip(range(EXAMPLES), range(3, 11))])
    second = write_folder(tmp / "iteration-2", [
        (f"what is {a} * {b} ?", f"read {a} {b} ; answer {a * b}") for a, b in zip(range(EXAMPLES), range(2, 10))])
    fixed = ["--max-steps", str(MAX_STEPS)]
    started = time.monotonic()
    wave = {
        "iteration 1": start_driver(*train_args(base, first, tmp / "out-1", *fixed)),
        # the negative control: the same two calls without --max-steps, each call its own whole schedule
        "control 1": start_driver(*train_args(base, first, tmp / "out-control-1")),
        # the reference for resuming: two passes over iteration 1's data in one call, against 1 + 1 across a resume
        "one call": start_driver(*train_args(base, first, tmp / "out-one-call", *fixed, "--epochs", "2")),
    }
    calls = {name: finish(process) for name, process in wave.items()}
    one, naive = calls["iteration 1"]["done"], calls["control 1"]["done"]
    resume = ["--resume", one["checkpoint"]]
    wave = {
        "iteration 2": start_driver(*train_args(one["model"], second, tmp / "out-2", *fixed, *resume)),
        "control 2": start_driver(*train_args(naive["model"], second, tmp / "out-control-2",
                                              "--resume", naive["checkpoint"])),
        "resumed": start_driver(*train_args(one["model"], first, tmp / "out-resumed", *fixed, *resume)),
    }
    calls.update({name: finish(process) for name, process in wave.items()})
    print({name: round(call["seconds"], 1) for name, call in calls.items()},
          f"all: {time.monotonic() - started:.1f} s")
    return dict(calls, tmp=tmp, base=base)


def steps(call) -> list[int]:
    return [log["step"] for log in call["logs"]]


def lrs(call) -> list[float]:
    return [log["learning_rate"] for log in call["logs"]]


def test_iteration_1_logs_every_step_on_the_whole_runs_schedule_and_saves_a_checkpoint(run):
    one = run["iteration 1"]
    assert steps(one) == [1, 2, 3, 4]
    assert lrs(one) == pytest.approx([linear_lr(step, MAX_STEPS) for step in range(1, 5)])
    assert one["done"]["learning_rates"] == lrs(one)
    assert one["done"]["global_step"] == 4
    assert one["logs"][-1]["loss"] < one["logs"][0]["loss"]  # it learns the responses
    checkpoint = pathlib.Path(one["done"]["checkpoint"])
    assert checkpoint.name == "checkpoint-4"
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "model.safetensors"):
        assert (checkpoint / name).is_file(), name
    assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == 4


def decays_linearly(rates: list[float]) -> bool:
    """True when the LRs fall by the same amount every step: one linear schedule, no jump, no restart."""
    drops = [earlier - later for earlier, later in zip(rates, rates[1:])]
    return all(drop > 0 for drop in drops) and max(drops) - min(drops) < 1e-9


def test_iteration_2_continues_the_step_counter_and_the_linear_decay(run):
    one, two = run["iteration 1"], run["iteration 2"]
    assert steps(two) == [5, 6, 7, 8]
    assert two["done"]["global_step"] == 8 and pathlib.Path(two["done"]["checkpoint"]).name == "checkpoint-8"
    assert lrs(two)[0] < lrs(one)[-1]
    assert decays_linearly(lrs(one) + lrs(two))
    assert lrs(two) == pytest.approx([linear_lr(step, MAX_STEPS) for step in range(5, 9)])


def test_without_a_fixed_max_steps_the_schedule_jumps_back_up(run):
    """The negative control, where the check above fails: each call's horizon is its own end (steps 4, then 8).
    Iteration 2's first step still runs at the LR the old schedule left in the optimizer (0 at its end); the
    rebuilt schedule then jumps back up to 3/8 of the peak."""
    one, two = run["control 1"], run["control 2"]
    assert steps(one) == [1, 2, 3, 4] and steps(two) == [5, 6, 7, 8]  # the counter continues ...
    assert not decays_linearly(lrs(one) + lrs(two))  # ... the schedule does not
    assert lrs(one) == pytest.approx([linear_lr(step, 4) for step in range(1, 5)])
    assert lrs(two) == pytest.approx([linear_lr(5, 4)] + [linear_lr(step, 8) for step in range(6, 9)])
    assert lrs(two)[1] > lrs(one)[-1] > lrs(two)[0] == 0


def test_resuming_on_the_same_data_reproduces_one_uninterrupted_call(run):
    """Weights, Adam moments, schedule and data order all carry over: the losses match loss for loss. Resuming
    with fresh Adam moments or the starting weights would change them (transformers 5.25's own resume loads no
    LLaVA weights at all, transformers#43701; the driver loads the checkpoint with from_pretrained instead)."""
    one_call, one, resumed = run["one call"], run["iteration 1"], run["resumed"]
    assert steps(one_call) == list(range(1, 9)) and steps(resumed) == [5, 6, 7, 8]
    losses = [log["loss"] for log in one_call["logs"]]
    assert [log["loss"] for log in one["logs"]] == pytest.approx(losses[:4], rel=1e-5)  # deterministic with --seed
    assert [log["loss"] for log in resumed["logs"]] == pytest.approx(losses[4:], rel=1e-5)
    assert lrs(resumed) == pytest.approx(lrs(one_call)[4:])


def test_a_spent_schedule_is_an_error_line(run):
    two = run["iteration 2"]
    failed = finish(start_driver(*train_args(two["done"]["model"], run["tmp"] / "iteration-2", run["tmp"] / "out-spent",
                                             "--max-steps", "8", "--resume", two["done"]["checkpoint"])),
                    expect_ok=False)
    assert failed["rc"] == 1 and failed["stdout"] == ""
    assert failed["stderr"].strip().splitlines()[-1] == (
        "error: ValueError: --max-steps 8 is spent: the checkpoint is at step 8")


def test_the_saved_model_loads_and_generates(run):
    import torch
    from PIL import Image
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model_dir = run["iteration 2"]["done"]["model"]
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    # trained: its weights are not the starting model's
    trained, start = load_file(f"{model_dir}/model.safetensors"), load_file(run["base"] / "model.safetensors")
    assert trained.keys() == start.keys()
    assert not torch.equal(trained["language_model.lm_head.weight"], start["language_model.lm_head.weight"])

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what is 2 * 3 ?"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(images=[Image.open(IMAGE)], text=[prompt], return_tensors="pt")
    torch.manual_seed(0)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    new_tokens = output[0, inputs["input_ids"].shape[1]:]
    assert 1 <= len(new_tokens) <= 6
    assert processor.decode(new_tokens, skip_special_tokens=True).strip()


def test_the_saved_model_is_served(run):
    for module in ("fastapi", "uvicorn", "openai"):
        pytest.importorskip(module)
    import openai
    from tiny_llava_server import png_data_url

    model_dir = run["iteration 2"]["done"]["model"]
    with TinyLlavaServer(run["tmp"] / "serve", model_dir=model_dir) as server:
        client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
        answer = client.chat.completions.create(model=server.model, max_tokens=8, seed=7, messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": png_data_url()}},
                                         {"type": "text", "text": "what is 2 * 3 ?"}]}])
    assert answer.choices[0].message.content
    assert answer.usage.prompt_tokens == 31  # <s>USER: + 16 image tokens + the question + ASSISTANT:
