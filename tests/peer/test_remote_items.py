"""A real dataset on a third-party server: `data load` of the MathVista fixture, then `eval --dataset`
and `sample --dataset` through `backend remote` against HF `transformers serve` of a tiny LLaVA
built here. The server ignores `n` (the generator falls back to one request per sample), refuses
vLLM's extra fields (the generator drops the ones it names), and seeds its samples, so the
session replays with `--verify`."""
import json
import pathlib
import re
import subprocess
import sys

import pytest

for module in ("torch", "transformers", "fastapi", "uvicorn"):
    pytest.importorskip(module)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "pty"))
from conftest import mstar_binary  # noqa: E402
from tiny_llava_server import TinyLlavaServer  # noqa: E402

FIXTURE = ROOT / "Tests" / "Fixtures" / "datasets" / "mathvista" / "testmini.json"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote-items")
    with TinyLlavaServer(folder) as server:
        script = folder / "items.mstar"
        script.write_text(
            f"backend remote --url {server.url} --model {server.model} --max-in-flight 2 --timeout 120\n"
            f"data load {FIXTURE} --as mathvista --seed 0 --test 0.5 --validation 0\n"
            "eval --dataset mathvista --split test --k 3 --max-tokens 12\n"
            "sample --dataset mathvista --index 0 --k 3 --max-tokens 12 --show 3\n")
        env = {"HOME": str(folder), "PATH": "/usr/bin:/bin"}
        p = subprocess.run([mstar_binary(), "run", str(script), "--out", str(folder / "run"), "--quiet"], cwd=str(folder), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr + server.log()
        yield server, folder, env


def test_eval_and_sample_on_real_items_through_transformers_serve(served):
    server, folder, _ = served
    journal = (folder / "run" / "session.mstar").read_text()
    m = re.search(r"#> mathvista test \((\d+) items, K 3, T 1\): greedy ([\d.]+), Pass@3 ([\d.]+), maj@3 ([\d.]+), Reward-Pass@2 ([\d.]+) \(vote\)", journal)
    assert m, journal
    items = int(m.group(1))
    assert items >= 2 and all(0 <= float(v) <= 1 for v in m.groups()[1:])
    assert "steps verified: n/a (no oracle for these items)" in journal
    assert "the server ignores n: each sample was its own request" in journal
    # sample shows three free-text responses with their extracted answers and verdicts.
    assert len(re.findall(r"#> \[\d\] (right|wrong)  answer ", journal)) == 3
    records = [json.loads(l) for l in (folder / "run" / "requests.jsonl").read_text().splitlines()]
    chats = [r for r in records if r["endpoint"] == "chat/completions"]
    # The first request was refused for vLLM's fields (422) and sent again without them.
    assert chats[0]["status"] == 422 and "Unexpected fields" in chats[0]["error"]
    ok = [r for r in chats if r["status"] == 200]
    assert all(r["choices"] == 1 for r in ok)
    # Greedy: one request per item. Samples: the first answers (n 3, one choice each; two were in
    # flight) show the server ignores n, and from then every sample is its own request, seeded.
    greedy = [r for r in ok if r["n"] == 1 and not r.get("fallback")]
    noticing = [r for r in ok if r["n"] == 3]
    alone = [r for r in ok if r.get("fallback")]
    assert len(greedy) == items and 1 <= len(noticing) <= 2 and len(alone) == 3 * items + 3
    # eval's samples each their own seed (sample --index 0 reuses stream 0's, as the digit tasks' sample does)
    assert len({r["seed"] for r in alone[:3 * items]}) == 3 * items
    # Images went as data URLs the server decoded: no request failed but the refused ones.
    assert all(r["status"] in (200, 422) for r in chats)


def test_the_session_replays_against_the_same_server(served):
    server, folder, env = served
    p = subprocess.run([mstar_binary(), "run", str(folder / "run" / "session.mstar"), "--verify", "--quiet", "--out", str(folder / "replay")],
                       cwd=str(folder), env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "every recorded output matches" in p.stderr


def test_a_step_on_items_rewards_selects_and_writes_the_selection_for_trl(served, tmp_path):
    """`data use` and `step` on a dataset whose gold answer is what the served model answers
    greedily, sampled at temperature 0: every sample is right, identical ones are kept once, and
    the selection is in TRL's layout with its image."""
    from datasets import load_dataset

    server, folder, env = served
    image = FIXTURE.parent / "images" / "1.png"
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "1.png").write_bytes(image.read_bytes())

    def dataset(question, gold):
        records = {str(i): {"pid": str(i), "question": question, "image": "images/1.png", "answer": gold,
                            "answer_type": "text", "question_type": "free_form"} for i in range(1, 4)}
        (tmp_path / "items.json").write_text(json.dumps(records))

    def run(name, body):
        (tmp_path / f"{name}.mstar").write_text(
            f"backend remote --url {server.url} --model {server.model} --max-in-flight 2\n"
            f"data load {tmp_path / 'items.json'} --as items --seed 0 --test 0 --validation 0.34\n" + body)
        p = subprocess.run([mstar_binary(), "run", f"{name}.mstar", "--out", name, "--quiet"], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr + server.log()
        return (tmp_path / name / "session.mstar").read_text()

    # The model's greedy answer to a question, asked as mstar asks it (the image file's bytes, the
    # text, temperature 0): the first question whose answer is one clean line makes the gold.
    import base64
    import openai
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
    url = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    for question in ["What is shown?", "What is this?", "Name it.", "Describe the image.", "What do you see?", "Which one?"]:
        content = client.chat.completions.create(model=server.model, max_tokens=4, temperature=0, seed=0, messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": question}]}],
        ).choices[0].message.content
        words = re.sub(r"[^a-z0-9 ]", "", content.lower()).strip()
        if content.isprintable() and words and not re.search(r"answer|box", content.lower()):
            break
    else:
        pytest.fail("no question got a clean greedy answer")
    dataset(question, content)
    journal = run("evolve", "data use items\nset temperature 0\nset k 3\nset max_tokens 4\nset dynamics_k 2\nset interval 1\n"
                            "step\nsample --prompt 0\ndynamics\nselection export --format llava --out llava\n")
    assert "#> step 1 (continuous, T 0): 2 prompts, 6 samples, 6 correct, 2 selected" in journal
    assert "#> validation (1 prompts, K 2): greedy 1.000, Pass@2 1.000, Reward-Pass@2 1.000 (vote), maj@2 1.000" in journal
    assert "#> selection for the trainer: selections/step-1 (TRL layout)" in journal
    assert "#> [0] kept  answer gold" in journal
    ds = load_dataset("json", data_files=str(tmp_path / "evolve" / "selections" / "step-1" / "train.jsonl"), split="train")
    assert len(ds) == 2
    for row in ds:
        assert row["messages"][0]["content"][1]["text"] == question and row["messages"][1]["content"][0]["text"] == content
        copied = tmp_path / "evolve" / "selections" / "step-1" / row["images"][0]
        assert copied.read_bytes() == image.read_bytes()
    # selection export writes the item step's selection in another trainer's layout, images copied.
    llava = json.loads((tmp_path / "evolve" / "llava" / "train.json").read_text())
    assert [c["conversations"][1]["value"] for c in llava] == [content, content]
    assert (tmp_path / "evolve" / "llava" / llava[0]["image"]).read_bytes() == image.read_bytes()
    dynamics = [json.loads(l) for l in (tmp_path / "evolve" / "dynamics.jsonl").read_text().splitlines()]
    assert dynamics[0]["greedy_acc"] == 1 and "steps_correct_share" not in dynamics[0]
