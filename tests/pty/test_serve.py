"""`mstar serve`: the OpenAI-compatible server, driven by the official openai client (and httpx for raw bodies)."""
import base64
import concurrent.futures
import socket
import struct
import subprocess
import time
import zlib

import openai
import pytest

try:  # the HTTP client the openai package is built on: httpx, or httpx2 in openai 3
    import httpx
except ImportError:
    import httpx2 as httpx

from conftest import ROOT

POLICY = str(ROOT / "checkpoints" / "pre-evolved")
REPLAY = str(ROOT / "checkpoints" / "pre-evolved-replay")
QUESTION = "what is the sum of the digits ?"
# A PRM small enough to train in seconds: Monte-Carlo labels of 4 prompts, one epoch (docs/serve.md).
PRM_SCRIPT = """load {policy}
set prm_prompts 4
set prm_samples 2
set prm_rollouts 2
set prm_epochs 1
prm train
save prm-run
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mstar serve` on a free port; waits for /health (30 s at most) and is killed at the end."""

    def __init__(self, mstar, folder, env, *args):
        self.port = free_port()
        self.log = folder / f"serve-{self.port}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([mstar, "serve", POLICY, "--port", str(self.port), "--threads", "1", *args],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=str(folder), env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "mstar serve exited: " + self.log.read_text()
            assert time.monotonic() < deadline, "mstar serve did not answer /health in 30 s: " + self.log.read_text()
            time.sleep(0.1)
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=60)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def png(width, height, grey):
    """An 8-bit greyscale PNG."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + bytes(grey(x, y) for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def data_url(data):
    return "data:image/png;base64," + base64.b64encode(data).decode()


def user(question=QUESTION, image=None):
    parts = ([{"type": "image_url", "image_url": {"url": image}}] if image else []) + [{"type": "text", "text": question}]
    return [{"role": "user", "content": parts}]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server with a PRM and an allowed media folder holding a scene the test split exports."""
    from conftest import mstar_binary
    mstar = mstar_binary()
    folder = tmp_path_factory.mktemp("serve")
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin", "MSTAR_DIGITS": str(ROOT / "data" / "digits.csv.gz")}
    export = subprocess.run([mstar, "data", "export", "--split", "test", "--out", "scenes"], cwd=str(folder), env=env,
                            capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    (folder / "prm.mstar").write_text(PRM_SCRIPT.format(policy=POLICY))
    made = subprocess.run([mstar, "run", "prm.mstar"], cwd=str(folder), env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    prm = folder / "runs" / "prm" / "prm-run" / "prm"
    assert (prm / "model.safetensors").exists(), sorted(str(p) for p in folder.rglob("*"))[:40]
    server = Server(mstar, folder, env, "--prm", str(prm), "--allowed-local-media-path", str(folder / "scenes" / "images"))
    yield server, folder, mstar, env
    server.stop()


@pytest.fixture(scope="module")
def scene(served):
    _, folder, _, _ = served
    path = sorted((folder / "scenes" / "images").glob("*.png"))[0]
    return path


def test_models_and_a_text_question(served):
    server = served[0]
    models = server.client.models.list().data
    assert [m.id for m in models] == ["pre-evolved"]
    assert models[0].owned_by == "mstar" and models[0].model_extra["max_model_len"] == 72
    r = server.client.chat.completions.create(model="pre-evolved", messages=[{"role": "user", "content": "given 3 4 what is the sum ?"}],
                                              temperature=0, seed=1)
    assert r.object == "chat.completion" and len(r.choices) == 1
    c = r.choices[0]
    assert c.message.role == "assistant" and c.message.content and c.finish_reason in ("stop", "length")
    assert c.logprobs is None
    assert r.usage.prompt_tokens == 10 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_a_question_about_an_exported_scene_by_data_url_and_by_path(served, scene):
    server = served[0]
    by_data = server.client.chat.completions.create(model="pre-evolved", messages=user(image=data_url(scene.read_bytes())),
                                                    temperature=0, max_tokens=40)
    by_path = server.client.chat.completions.create(model="pre-evolved", messages=user(image="file://" + str(scene)),
                                                    temperature=0, max_tokens=40)
    text = by_data.choices[0].message.content
    assert text.startswith("read ") and text == by_path.choices[0].message.content


def test_sixteen_samples_with_logprobs_and_token_ids(served, scene):
    server = served[0]
    r = server.client.chat.completions.create(model="pre-evolved", messages=user(image=data_url(scene.read_bytes())), n=16,
                                              temperature=1, logprobs=True, seed=3, extra_body={"return_token_ids": True})
    assert [c.index for c in r.choices] == list(range(16))
    total = 0
    for c in r.choices:
        lps = c.logprobs.content
        ids = c.model_extra["token_ids"]
        assert len(lps) == len(ids) > 0 and all(t.logprob <= 0 and t.top_logprobs == [] for t in lps)
        assert [t.token for t in lps if t.token != "<eos>"] == c.message.content.split()
        assert all(bytes(t.bytes).decode() == t.token for t in lps)
        assert (c.finish_reason == "stop") == (lps[-1].token == "<eos>")
        total += len(ids)
    assert r.usage.completion_tokens == total
    assert len({c.message.content for c in r.choices}) > 1  # T = 1 explores


def test_a_seed_fixes_the_choices(served, scene):
    server = served[0]
    ask = lambda seed: [c.message.content for c in server.client.chat.completions.create(
        model="pre-evolved", messages=user(image=data_url(scene.read_bytes())), n=4, seed=seed).choices]
    assert ask(7) == ask(7)
    assert ask(7) != ask(8)


def test_concurrent_requests_get_their_sequential_answers(served, scene):
    server = served[0]
    image = data_url(scene.read_bytes())
    kinds = [dict(seed=s, n=4, max_tokens=30) for s in range(6)] + [dict(seed=9, n=2, temperature=0.5), dict(seed=1, n=4, max_tokens=30)]

    def ask(kw):
        r = server.client.chat.completions.create(model="pre-evolved", messages=user(image=image), logprobs=True, **kw)
        return [(c.message.content, [t.logprob for t in c.logprobs.content]) for c in r.choices]
    alone = [ask(kw) for kw in kinds]
    with concurrent.futures.ThreadPoolExecutor(len(kinds)) as pool:
        together = list(pool.map(ask, kinds))
    assert together == alone


def test_bad_requests_are_refused_with_their_status(served, scene):
    server, folder, _, _ = served
    create = lambda **kw: server.client.chat.completions.create(**{"model": "pre-evolved", "messages": user(), **kw})
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        create(model="gpt-4")
    for kw, words in [(dict(n=0), "n is 0"), (dict(n=1000), "n is 1000"), (dict(max_tokens=1000), "max_tokens is 1000"),
                      (dict(messages=user("what is the meaning of life ?")), "meaning"),
                      (dict(messages=user(image=data_url(png(20, 20, lambda x, y: 0)))), "20x20"),
                      (dict(messages=user(image="/etc/passwd")), "outside the allowed media folder"),
                      (dict(messages=user(image=str(folder / "scenes" / "images" / ".." / "data.jsonl"))), "outside"),
                      (dict(top_logprobs=3, logprobs=True), "top_logprobs")]:
        with pytest.raises(openai.BadRequestError, match=words):
            create(**kw)
    with pytest.raises(openai.BadRequestError, match="stream"):
        create(stream=True)
    raw = httpx.post(server.url + "/v1/chat/completions", content=b'{"model": "pre-evolved", "messages": [', timeout=10,
                     headers={"content-type": "application/json"})
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and "not valid JSON" in error["message"] and "\n" not in error["message"]
    big = httpx.post(server.url + "/v1/chat/completions", content=b" " * (9 << 20), timeout=30)
    assert big.status_code == 413
    assert httpx.get(server.url + "/health", timeout=5).status_code == 200  # still serving


def test_pooling_scores_each_step_with_the_prm(served, scene):
    server = served[0]
    messages = user(image=data_url(scene.read_bytes())) + [{"role": "assistant", "content": "read 3 4 ; 3 + 4 = 7 ; answer 7"}]
    r = httpx.post(server.url + "/pooling", json={"model": "pre-evolved", "task": "token_classify", "messages": messages}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["data"][0]["object"] == "pooling"
    steps = body["data"][0]["data"]
    assert len(steps) == 3 and all(abs(bad + good - 1) < 1e-5 and 0 <= good <= 1 for bad, good in steps)
    bad = httpx.post(server.url + "/pooling", json={"task": "token_classify", "messages": messages[:1]}, timeout=30)
    assert bad.status_code == 400 and "assistant" in bad.json()["error"]["message"]


def test_pause_update_weights_resume(served, scene, tmp_path):
    _, folder, mstar, env = served
    server = Server(mstar, folder, env)
    try:
        ask = lambda: [c.message.content for c in server.client.chat.completions.create(
            model="pre-evolved", messages=user(image=data_url(scene.read_bytes())), n=8, seed=11).choices]
        before = ask()
        post = lambda path, **kw: httpx.post(server.url + path, timeout=30, **kw)
        assert post("/update_weights", json={"path": REPLAY}).status_code == 409
        assert httpx.get(server.url + "/pooling", timeout=5).status_code == 404  # no route for GET, no PRM either
        assert post("/pause").status_code == 200
        with pytest.raises(openai.APIStatusError) as paused:
            ask()
        assert paused.value.status_code == 503 and "retry after /resume" in paused.value.message
        for bad in [str(tmp_path), "/nonexistent"]:
            r = post("/update_weights", json={"path": bad})
            assert r.status_code == 400 and "old weights stay" in r.json()["error"]["message"]
        assert post("/update_weights", json={"path": REPLAY}).status_code == 200
        assert post("/resume").status_code == 200
        after = ask()
        assert after != before and after == ask()
    finally:
        server.stop()
