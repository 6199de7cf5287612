"""The remote backend (`backend remote`): a run sampling through `mstar serve` is the native run, bit
for bit; faults between them (retries, malformed answers, timeouts, a server that ignores n, a
server that dies) end a step cleanly. Only 127.0.0.1; every wait bounded."""
import http.server
import json
import signal
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from test_serve import Server

POLICY = str(ROOT / "checkpoints" / "pre-evolved")
# A tiny run: lr 0 keeps the policy the server serves (without --reload the server keeps its
# weights), the temperature search exercises several temperatures at once.
SETTINGS = f"""load {POLICY}
set prompts 6
set k 4
set max_tokens 24
set lr 0
set dynamics_prompts 6
set dynamics_k 4
set dynamic_temperature on
set temperature_prompts 4
set temperature_min 0.5
set temperature_max 1
set temperature_step 0.5
"""
STEPS = "step\nevolve 2\nsample --prompt 0\nsample --split test --index 3 --k 4\neval --split test --limit 6 --k 4\n"


def run(mstar, folder, env, name, backend, body, timeout=120):
    """`mstar run` of `backend` + SETTINGS + `body`; returns (process, run directory)."""
    (folder / f"{name}.mstar").write_text(backend + "\n" + SETTINGS + body)
    p = subprocess.run([mstar, "run", f"{name}.mstar", "--out", name, "--quiet"], cwd=str(folder), env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p, folder / name


def journal(directory):
    """The journal without the backend line and the timings (`#>~` lines vary by run)."""
    return [l for l in (directory / "session.mstar").read_text().splitlines()
            if not l.startswith(("backend", "#> backend", "#> training stays native", "#>~"))]


def records(directory):
    path = directory / "requests.jsonl"
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote")
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin", "MSTAR_DIGITS": str(ROOT / "data" / "digits.csv.gz")}
    from conftest import mstar_binary
    mstar = mstar_binary()
    server = Server(mstar, folder, env)
    native, native_dir = run(mstar, folder, env, "native", "backend native", STEPS)
    assert native.returncode == 0, native.stderr
    yield server, folder, mstar, env, native_dir
    server.stop()


def test_a_run_through_mstar_serve_is_the_native_run(served):
    server, folder, mstar, env, native_dir = served
    p, remote_dir = run(mstar, folder, env, "remote", f"backend remote --url {server.url}/v1 --model pre-evolved", STEPS)
    assert p.returncode == 0, p.stderr
    assert (remote_dir / "dynamics.jsonl").read_bytes() == (native_dir / "dynamics.jsonl").read_bytes()
    assert len((native_dir / "dynamics.jsonl").read_text().splitlines()) == 3
    # The same outputs, the samples of `sample --prompt 0` included.
    assert journal(remote_dir) == journal(native_dir)
    assert any("sample --prompt 0" in l for l in journal(remote_dir))
    # eval and sample --split sample through the backend too, to the same outputs.
    assert any(l.startswith("#> test (6 prompts, K 4") for l in journal(remote_dir))
    # The last requests are theirs (written after eval): sample --split's one (n 4), then eval's
    # greedy (n 1) and sampled (n 4) request for each of its 6 prompts.
    tail = records(remote_dir)[-13:]
    assert sorted(r["prompt"] for r in tail if r["n"] == 1) == list(range(6))
    assert sorted(r["prompt"] for r in tail if r["n"] == 4) == [0] + list(range(6))
    recs = records(remote_dir)
    chats = [r for r in recs if r["endpoint"] == "chat/completions"]
    assert recs[0]["endpoint"] == "models" and chats
    assert all(r["status"] == 200 and r["tries"] == 1 and r["choices"] == r["n"] and "error" not in r for r in chats)


class Proxy:
    """A loopback HTTP server in front of `mstar serve` that injects faults into chat completions:
    `plan` is a list of statuses answered (one per request) before passing on, `after` chat
    requests later it switches to `mode` ("pass", "malformed", "slow", "ignore_n")."""

    def __init__(self, upstream, plan=(), mode="pass", after=0, delay=3.0):
        self.upstream, self.plan, self.mode, self.after, self.delay = upstream, list(plan), mode, after, delay
        self.lock = threading.Lock()
        self.chats = 0
        self.authorizations = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def forward(self, body=None):
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST" if body is not None else "GET",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        self.answer(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self.answer(e.code, e.read())

            def do_GET(self):
                with proxy.lock:
                    proxy.authorizations.add(self.headers.get("Authorization"))
                self.forward()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with proxy.lock:
                    proxy.authorizations.add(self.headers.get("Authorization"))
                    fault = proxy.plan.pop(0) if proxy.plan else None
                    proxy.chats += 1
                    mode = proxy.mode if proxy.chats > proxy.after else "pass"
                if fault is not None:
                    return self.answer(fault, json.dumps({"error": {"message": f"injected {fault}", "type": "x"}}).encode())
                if mode == "malformed":
                    return self.answer(200, b'{"choices": [{"index": 0, "message": ')
                if mode == "slow":
                    time.sleep(proxy.delay)
                if mode == "ignore_n":  # HF transformers serve: one choice whatever n is
                    request = json.loads(body)
                    request["n"] = 1
                    body = json.dumps(request).encode()
                self.forward(body)

        class Threading(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Threading(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def backend(url, extra=""):
    return f"backend remote --url {url}/v1 --model pre-evolved {extra}".strip()


def test_a_training_run_with_reload_through_mstar_serve_is_the_native_run(served):
    """With --reload update-weights the server is given the trained weights before it samples
    again, so a run that trains (lr > 0) is the native run too, bit for bit."""
    server, folder, mstar, env, _ = served
    body = "step\nevolve 1\nsample --prompt 0\n"
    # Enough prompts that some answers are right and selected, so the step trains.
    training = SETTINGS.replace("set lr 0\n", "").replace("set prompts 6", "set prompts 32").replace("set k 4", "set k 8")
    (folder / "trained-native.mstar").write_text("backend native\n" + training + body)
    remote = f"backend remote --url {server.url}/v1 --model pre-evolved"
    (folder / "trained-remote.mstar").write_text(remote + " --reload update-weights\n" + training + body)
    # Without --reload the server keeps sampling the weights it was started with.
    (folder / "trained-stale.mstar").write_text(remote + "\n" + training + body)
    out = {}
    try:
        for name in ["trained-native", "trained-stale", "trained-remote"]:
            p = subprocess.run([mstar, "run", f"{name}.mstar", "--out", name, "--quiet"], cwd=str(folder), env=env,
                               capture_output=True, text=True, timeout=180)
            assert p.returncode == 0, p.stderr
            out[name] = folder / name
    finally:  # the server serves the pre-evolved policy again, as the other tests expect
        for path, body in [("pause", {}), ("update_weights", {"path": POLICY}), ("resume", {})]:
            urllib.request.urlopen(urllib.request.Request(f"{server.url}/{path}", data=json.dumps(body).encode(),
                                                          headers={"Content-Type": "application/json"}), timeout=30).read()
    native_dir, remote_dir = out["trained-native"], out["trained-remote"]
    assert (remote_dir / "dynamics.jsonl").read_bytes() == (native_dir / "dynamics.jsonl").read_bytes()
    assert journal(remote_dir) == journal(native_dir)
    assert any(" selected" in l and " 0 selected" not in l for l in journal(remote_dir))
    # The weights moved: each update is pause, update_weights, resume, all answered 200.
    recs = [r for r in records(remote_dir) if r["endpoint"] in ("pause", "update_weights", "resume")]
    updates = [r for r in recs if r["endpoint"] == "update_weights"]
    assert len(updates) >= 3 and all(r["status"] == 200 for r in recs)
    assert [r["endpoint"] for r in recs] == ["pause", "update_weights", "resume"] * len(updates)
    assert (remote_dir / "served-policy" / "model.safetensors").exists()
    assert (out["trained-stale"] / "dynamics.jsonl").read_bytes() != (native_dir / "dynamics.jsonl").read_bytes()


def test_transient_failures_are_retried(served):
    server, folder, mstar, env, native_dir = served
    proxy = Proxy(server.url, plan=[503, 429, 502])
    try:
        p, d = run(mstar, folder, env, "retried", backend(proxy.url), STEPS)
    finally:
        proxy.close()
    assert p.returncode == 0, p.stderr
    assert (d / "dynamics.jsonl").read_bytes() == (native_dir / "dynamics.jsonl").read_bytes()
    retried = [r for r in records(d) if r["tries"] > 1]
    assert retried and all(r["status"] == 200 for r in retried)
    assert sum(r["tries"] - 1 for r in records(d)) == 3


def steps_of_one(server, folder, mstar, env):
    """Chat requests one step makes (counted by a passing proxy)."""
    proxy = Proxy(server.url)
    try:
        p, _ = run(mstar, folder, env, "count", backend(proxy.url), "step\n")
    finally:
        proxy.close()
    assert p.returncode == 0, p.stderr
    return proxy.chats


@pytest.mark.parametrize("mode,message,extra", [
    ("malformed", "is not a chat completion", ""),
    ("slow", "did not answer within 1 s", "--timeout 1"),
])
def test_a_bad_answer_fails_the_step_and_leaves_the_run(served, mode, message, extra):
    server, folder, mstar, env, native_dir = served
    first = steps_of_one(server, folder, mstar, env)
    proxy = Proxy(server.url, mode=mode, after=first, delay=3)
    try:
        start = time.monotonic()
        p, d = run(mstar, folder, env, f"bad-{mode}", backend(proxy.url, extra), "step\nstep\n")
        took = time.monotonic() - start
    finally:
        proxy.close()
    assert p.returncode == 1
    errors = [l for l in p.stderr.splitlines() if "failed" in l]
    assert len(errors) == 1 and message in errors[0], p.stderr
    # The first step stays, the second left no trace.
    native_first = (native_dir / "dynamics.jsonl").read_text().splitlines()[0]
    assert (d / "dynamics.jsonl").read_text().splitlines() == [native_first]
    assert took < 60


def test_a_server_that_ignores_n_gets_one_request_per_sample(served):
    server, folder, mstar, env, native_dir = served
    proxy = Proxy(server.url, mode="ignore_n")
    try:
        p, d = run(mstar, folder, env, "ignore-n", backend(proxy.url), "step\n")
    finally:
        proxy.close()
    assert p.returncode == 0, p.stderr
    recs = [r for r in records(d) if r["endpoint"] == "chat/completions"]
    # The first answer showed it; every sample after is its own request (n = 1), marked.
    assert any(r["n"] > 1 and r["choices"] < r["n"] for r in recs)
    alone = [r for r in recs if r.get("fallback")]
    assert alone and all(r["n"] == 1 and r["choices"] == 1 and r["sample"] is not None for r in alone)
    line = json.loads((d / "dynamics.jsonl").read_text().splitlines()[0])
    assert line["k"] == 4 and line["step"] == 1


PRM_SETTINGS = """set prm_prompts 4
set prm_samples 2
set prm_rollouts 2
set prm_epochs 1
set selection prm-top
prm train
"""


def test_a_served_prm_scores_as_the_runs_own(served):
    """The PRM's Monte-Carlo rollouts continue step prefixes (continue_final_message) and its step
    scores come over /pooling from `mstar serve --prm` of the PRM the run trains."""
    _, folder, mstar, env, _ = served
    p, made = run(mstar, folder, env, "prm-made", "backend native", PRM_SETTINGS + "save prm-run\n")
    assert p.returncode == 0, p.stderr
    with_prm = Server(mstar, folder, env, "--prm", str(made / "prm-run" / "prm"))
    try:
        body = PRM_SETTINGS + "step\nsample --prompt 0\n"
        p, remote = run(mstar, folder, env, "prm-remote",
                        backend(with_prm.url, f"--prm-url {with_prm.url}/v1 --prm-model pre-evolved"), body)
        assert p.returncode == 0, p.stderr
    finally:
        with_prm.stop()
    p, native = run(mstar, folder, env, "prm-native", "backend native", body)
    assert p.returncode == 0, p.stderr
    assert (remote / "dynamics.jsonl").read_bytes() == (native / "dynamics.jsonl").read_bytes()
    assert journal(remote) == journal(native)
    recs = records(remote)
    assert any(r["endpoint"] == "pooling" and r["status"] == 200 for r in recs)


def test_a_served_prm_ranks_a_datasets_free_text_by_its_tagged_steps(served):
    """A real dataset's free-text responses scored over /pooling in the layout of vLLM's step
    pooling: each response split at ';' and every step followed by the PRM's tag, one score per
    tag back (`mstar serve --step-tag`). The PRM ranks for prm-top selection, the prm-vote labels of
    unlabelled items, Reward-Pass@2 and best-of-K, in eval, sample, the step and its dynamics, and
    the session replays."""
    server, folder, mstar, env, _ = served
    p, made = run(mstar, folder, env, "prm-items-made", "backend native",
                  PRM_SETTINGS + "save prm-run\ndata export --split test --out digits --count 12\n")
    assert p.returncode == 0, p.stderr
    # The exported scenes in MathVista's layout, the gold answer a number.
    exported = [json.loads(l) for l in (made / "digits" / "data.jsonl").read_text().splitlines()]
    items = {str(i + 1): {"pid": str(i + 1), "question": r["conversations"][0]["value"].replace("<image>\n", ""),
                          "image": r["image"], "choices": None, "answer": str(r["answer"]), "answer_type": "integer",
                          "question_type": "free_form", "precision": None, "unit": None}
             for i, r in enumerate(exported)}
    (made / "digits" / "items.json").write_text(json.dumps(items))
    prm = Server(mstar, folder, env, "--prm", str(made / "prm-run" / "prm"), "--step-tag", "<extra_0>")
    load = "data load prm-items-made/digits/items.json --format mathvista --as digits --unlabelled 0.25 --validation 0.25 --test 0\n"
    prm_options = f"--prm-url {prm.url}/v1 --prm-model pre-evolved --prm-step-tag <extra_0>"
    body = (load + "set selection prm-top\nset select_k 1\nset prompt_variation prm-vote\nset mixin 0\ndata use digits\n"
            "eval --dataset digits --split validation --k 4 --max-tokens 24\n"
            "sample --dataset digits --index 0 --k 4 --max-tokens 24\nstep\n")
    try:
        p, d = run(mstar, folder, env, "prm-items", backend(server.url, prm_options + " --prm-step-split ;"), body)
        assert p.returncode == 0, p.stderr
        journal_text = (d / "session.mstar").read_text()
        assert "(steps split at ;, each followed by <extra_0>)" in journal_text
        evaluated = next(l for l in journal_text.splitlines() if l.startswith("#> digits validation"))
        assert "Reward-Pass@2" in evaluated and "(prm), PRM best-of-4" in evaluated
        # Every response shown has each of its chain's steps scored.
        lines = journal_text.splitlines()
        scored = [i for i, l in enumerate(lines) if "PRM " in l and "(min of" in l]
        assert len(scored) == 4
        for i in scored:
            steps = lines[i - 1].count(";") + 1
            assert f"(min of {steps} step" in lines[i], lines[i - 1:i + 1]
        line = json.loads((d / "dynamics.jsonl").read_text().splitlines()[0])
        assert line["ranker"] == "prm" and line["prm_best_of_k"] is not None
        # Unlabelled items joined, labelled by the PRM-weighted vote.
        assert line["unlabelled"] > 0 and line["pseudo_label_acc"] is not None
        pooled = [r for r in records(d) if r["endpoint"] == "pooling"]
        assert pooled and all(r["status"] == 200 and r["choices"] >= 1 for r in pooled)
        # The same requests give the same scores: the session replays against the servers.
        replay = subprocess.run([mstar, "run", str(d / "session.mstar"), "--verify", "--out", "prm-items-replay", "--quiet"],
                                cwd=str(folder), env=env, capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        # Tags that do not fall between the chain's steps: the server says so and the command fails in one line.
        p, _ = run(mstar, folder, env, "prm-items-untagged", backend(server.url, prm_options),
                   load + "sample --dataset digits --index 0 --k 4 --max-tokens 24\n")
        assert p.returncode == 1 and "tagged steps but its chain has" in p.stderr, p.stderr
    finally:
        prm.stop()


def test_unreachable_server_is_one_line(served):
    _, folder, mstar, env, _ = served
    p, _ = run(mstar, folder, env, "unreachable", backend("http://127.0.0.1:9"), "step\n", timeout=60)
    assert p.returncode == 1
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "cannot reach http://127.0.0.1:9/v1/models" in lines[0], p.stderr


def test_killing_the_server_mid_evolve_fails_the_step_cleanly(served):
    _, folder, mstar, env, native_dir = served
    victim = Server(mstar, folder, env)
    try:
        (folder / "killed.mstar").write_text(backend(victim.url) + "\n" + SETTINGS + "evolve 400\n")
        proc = subprocess.Popen([mstar, "run", "killed.mstar", "--out", "killed", "--quiet"], cwd=str(folder), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dynamics = folder / "killed" / "dynamics.jsonl"
        deadline = time.monotonic() + 60
        while not (dynamics.exists() and len(dynamics.read_text().splitlines()) >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no two steps in 60 s"
            time.sleep(0.05)
    finally:
        victim.proc.kill()
        victim.proc.wait()
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    errors = [l for l in err.splitlines() if "failed" in l]
    assert len(errors) == 1 and ("cannot reach" in errors[0] or "answered" in errors[0]), err
    lines = dynamics.read_text().splitlines()
    assert [json.loads(l)["step"] for l in lines] == list(range(1, len(lines) + 1))
    # The completed steps are the native run's; the interrupted one left nothing.
    p, d = run(mstar, folder, env, "native-n", "backend native", f"evolve {len(lines)}\n")
    assert p.returncode == 0, p.stderr
    assert (d / "dynamics.jsonl").read_text().splitlines() == lines


def test_ctrl_c_cancels_the_requests_in_flight(served):
    """An interrupt while requests hang does not wait for them: the step is interrupted at once
    and the run keeps the steps before it."""
    server, folder, mstar, env, native_dir = served
    first = steps_of_one(server, folder, mstar, env)
    proxy = Proxy(server.url, mode="slow", after=first, delay=30)
    try:
        (folder / "ctrl-c.mstar").write_text(backend(proxy.url, "--timeout 60") + "\n" + SETTINGS + "step\nevolve 3\n")
        proc = subprocess.Popen([mstar, "run", "ctrl-c.mstar", "--out", "ctrl-c", "--quiet"], cwd=str(folder), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while proxy.chats <= first:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second step sent nothing in 60 s"
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert time.monotonic() - start < 10
    finally:
        proxy.close()
    assert proc.returncode == 130
    native_first = (native_dir / "dynamics.jsonl").read_text().splitlines()[0]
    assert (folder / "ctrl-c" / "dynamics.jsonl").read_text().splitlines() == [native_first]


def test_the_api_key_is_sent_and_never_written(served):
    server, folder, mstar, env, _ = served
    proxy = Proxy(server.url)
    try:
        p, d = run(mstar, folder, dict(env, MSTAR_TEST_KEY="s3cret-key"), "keyed", backend(proxy.url, "--api-key-env MSTAR_TEST_KEY"), "step\n")
        missing, _ = run(mstar, folder, env, "unkeyed", backend(proxy.url, "--api-key-env MSTAR_TEST_KEY"), "step\n")
    finally:
        proxy.close()
    assert p.returncode == 0, p.stderr
    assert proxy.authorizations == {"Bearer s3cret-key"}
    assert "MSTAR_TEST_KEY" in (d / "session.mstar").read_text()
    assert not any("s3cret" in f.read_text(errors="replace") for f in d.rglob("*") if f.is_file())
    assert missing.returncode == 1 and "MSTAR_TEST_KEY" in missing.stderr and "not set" in missing.stderr
