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
