"""The Jupyter kernel with the real clients from PyPI: the kernelspec `mstar kernel install` writes is
found by `jupyter kernelspec list`; jupyter_client starts the kernel, executes, completes, inspects,
interrupts an `evolve` and restarts; nbclient runs a notebook of quickstart cells end to end, and the
saved notebook and the kernel's journal both replay with `mstar run --verify`."""
import json
import os
import pathlib
import queue
import subprocess
import time

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from conftest import ROOT

NAME = "mstar-test"


@pytest.fixture
def jupyter(mstar, workdir, monkeypatch):
    """A working folder with the kernelspec installed in a Jupyter data folder of its own; the
    environment (which the kernel inherits) points Jupyter there."""
    path, env = workdir
    env = dict(env, JUPYTER_DATA_DIR=str(path / "jupyter-data"), JUPYTER_CONFIG_DIR=str(path / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(path / "jupyter-runtime"), JUPYTER_PLATFORM_DIRS="1")
    r = subprocess.run([mstar, "kernel", "install", "--user", "--name", NAME], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return path, env


def start(path):
    km = KernelManager(kernel_name=NAME)
    km.start_kernel(cwd=str(path))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def run_cell(kc, code, timeout=120):
    """Executes `code`; returns the reply's content and the cell's iopub messages (type, content)."""
    messages = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: messages.append((m["msg_type"], m["content"])))
    return reply["content"], messages


def stdout(messages):
    return "".join(c["text"] for t, c in messages if t == "stream" and c["name"] == "stdout")


def run_dirs(path):
    return sorted((path / "runs").glob("kernel-*"))


def test_kernelspec_is_found_by_jupyter(mstar, jupyter):
    path, env = jupyter
    r = subprocess.run(["jupyter", "kernelspec", "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)["kernelspecs"][NAME]
    assert pathlib.Path(spec["resource_dir"]).parent.parent == path / "jupyter-data"
    assert spec["spec"]["language"] == "mstar"
    assert spec["spec"]["interrupt_mode"] == "message"
    argv = spec["spec"]["argv"]
    assert os.path.samefile(argv[0], mstar) and argv[1:] == ["kernel", "--connection-file", "{connection_file}"]
    for size in (32, 64):
        assert (pathlib.Path(spec["resource_dir"]) / f"logo-{size}x{size}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Reinstalling replaces mstar's own kernelspec; another kernel's is refused.
    r = subprocess.run([mstar, "kernel", "install", "--user", "--name", NAME], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    other = path / "jupyter-data" / "kernels" / "python-x"
    other.mkdir(parents=True)
    (other / "kernel.json").write_text(json.dumps({"argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]}))
    r = subprocess.run([mstar, "kernel", "install", "--user", "--name", "python-x"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "another kernel's" in r.stderr
    assert "ipykernel_launcher" in (other / "kernel.json").read_text()


def test_cells_run_as_at_the_prompt_with_completion_inspection_and_errors(mstar, jupyter):
    path, env = jupyter
    (path / "dyn.jsonl").write_text("".join(f'{{"step": {s}, "greedy_acc": {0.3 + 0.1 * s:.1f}}}\n' for s in range(4)))
    km, kc = start(path)
    try:
        info = kc.kernel_info(reply=True)["content"]
        assert info["status"] == "ok" and info["implementation"] == "mstar"
        assert info["language_info"]["name"] == "mstar" and info["language_info"]["file_extension"] == ".mstar"
        assert info["protocol_version"] == "5.3"

        reply, msgs = run_cell(kc, "seed 3\n# a comment\nset plot_width \\\n  720")
        assert reply["status"] == "ok" and reply["execution_count"] == 1
        assert stdout(msgs) == "seed = 3\nplot_width = 720\n"
        assert ("execute_input", {"code": "seed 3\n# a comment\nset plot_width \\\n  720", "execution_count": 1}) in msgs

        # An error ends the cell, with the REPL's one-line message; nothing after it runs.
        reply, msgs = run_cell(kc, "hlep\nseed 4")
        assert reply["status"] == "error" and reply["ename"] == "Error"
        assert reply["evalue"] == "unknown command 'hlep'; did you mean 'help'?"
        assert [c["evalue"] for t, c in msgs if t == "error"] == [reply["evalue"]]
        # A table is one display: HTML, with the recorded text as text/plain.
        reply, msgs = run_cell(kc, "show settings")
        (table,) = [c for t, c in msgs if t == "display_data"]
        assert "<td>seed</td><td>3</td><td>0</td>" in table["data"]["text/html"]  # the session kept seed 3
        text = table["data"]["text/plain"].splitlines()
        assert any(line.split()[:3] == ["*", "seed", "3"] for line in text)
        assert table["metadata"]["mstar"]["recorded"] == ["#> " + line.rstrip() if line.strip() else "#>" for line in text]

        # A plot: the PNG inline, its text rendering as the fallback, the summary line as text.
        reply, msgs = run_cell(kc, "plot greedy_acc --from dyn.jsonl")
        assert reply["status"] == "ok", reply
        assert stdout(msgs) == "greedy accuracy: 4 points, x 0..3, min 0.3, max 0.6, last 0.6\n"
        displays = [c for t, c in msgs if t == "display_data"]
        assert len(displays) == 1
        import base64
        assert base64.b64decode(displays[0]["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        assert "iteration" in displays[0]["data"]["text/plain"]
        assert displays[0]["metadata"]["mstar"]["recorded"] == ["#> [plot: plots/greedy_acc.png]"]

        # The safety rules of `mstar run`: nothing outside the run directory, no programs.
        reply, _ = run_cell(kc, f"plot greedy_acc --from dyn.jsonl --out {path / 'outside.png'}")
        assert reply["status"] == "error" and "outside the run directory" in reply["evalue"]
        assert not (path / "outside.png").exists()
        (path / "t.json").write_text('{"command": ["touch", "ran"]}')
        reply, _ = run_cell(kc, "trainer command --config t.json")
        assert reply["status"] == "error" and "--allow-trainers" in reply["evalue"]
        assert not (path / "ran").exists()

        # Completion, inspection and the multi-line check, as the REPL completes and helps.
        c = kc.complete("set plot_w", 10, reply=True)["content"]
        assert c["status"] == "ok" and c["matches"] == ["plot_width"] and (c["cursor_start"], c["cursor_end"]) == (4, 10)
        c = kc.complete("seed 1\npl", 9, reply=True)["content"]
        assert "plot" in c["matches"] and c["cursor_start"] == 7
        c = kc.complete("plot greedy_acc --ti", 20, reply=True)["content"]
        assert c["matches"] == ["--title"]
        i = kc.inspect("plot greedy_acc", 2, reply=True)["content"]
        assert i["found"] and i["data"]["text/plain"].startswith("plot: plot metrics per iteration with gnuplot")
        i = kc.inspect("set plot_width 700", 6, reply=True)["content"]
        assert i["found"] and "setting plot_width: width of plot files in pixels" in i["data"]["text/plain"]
        assert not kc.inspect("nonsense", 3, reply=True)["content"]["found"]
        def is_complete(code):
            msg_id = kc.is_complete(code)
            reply = kc.get_shell_msg(timeout=30)
            assert reply["parent_header"]["msg_id"] == msg_id
            return reply["content"]["status"]
        assert is_complete("set plot_width \\") == "incomplete"
        assert is_complete('plot greedy_acc --title "open') == "incomplete"
        assert is_complete("seed 1") == "complete"

        # A message signed with another key is dropped unanswered; the kernel goes on.
        key = kc.session.key
        kc.session.key = b"not-the-key"
        kc.execute("seed 9")
        with pytest.raises(queue.Empty):
            kc.get_shell_msg(timeout=2)
        kc.session.key = key
        reply, msgs = run_cell(kc, "seed 5")
        assert reply["status"] == "ok" and stdout(msgs) == "seed = 5\n"

        # A shutdown request is answered and the kernel exits by itself, status 0.
        msg_id = kc.shutdown()
        reply = kc.control_channel.get_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
        assert km.provisioner.process.wait(timeout=10) == 0
    finally:
        stop(km, kc)

    # The kernel's journal holds every completed command, defaults resolved, and replays.
    (run,) = run_dirs(path)
    journal = (run / "session.mstar").read_text()
    assert "seed 3\n#> seed = 3\n" in journal and "hlep" not in journal and "seed 9" not in journal
    r = subprocess.run([mstar, "run", str(run / "session.mstar"), "--verify", "--quiet", "--out", str(path / "replay")],
                       env=env, cwd=str(path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_malformed_messages_are_dropped_and_the_kernel_goes_on(mstar, jupyter):
    """Frames straight on the shell socket: no delimiter, too few frames, signed frames that are not
    JSON, a message of 2,000 frames. Each is dropped; the kernel still answers."""
    import hashlib
    import hmac

    import zmq
    path, env = jupyter
    km, kc = start(path)
    try:
        info = km.get_connection_info()
        key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        sign = lambda parts: hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode()
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
        bad_json = [b"{not json", b"{}", b"{}", b"{}"]
        for frames in ([b"garbage"], [b"<IDS|MSG>", b"sig"], [b"<IDS|MSG>", sign(bad_json)] + bad_json,
                       [b"x"] * 2000, [b"<IDS|MSG>", b"zz" * 32, b"{}", b"{}", b"{}", b"{}"]):
            sock.send_multipart(frames)
        time.sleep(0.5)
        assert sock.poll(500) == 0  # nothing answered
        sock.close(linger=0)
        reply, msgs = run_cell(kc, "seed 2")
        assert reply["status"] == "ok" and stdout(msgs) == "seed = 2\n"
    finally:
        stop(km, kc)


TINY = ["data generate --fraction 0.02", "model new", "set prompts 8", "set k 4", "set max_tokens 12",
        "set dynamics_prompts 4", "set dynamics_k 2"]


def test_interrupt_during_evolve_then_restart(mstar, jupyter):
    path, env = jupyter
    km, kc = start(path)
    try:
        reply, _ = run_cell(kc, "\n".join(TINY), timeout=300)
        assert reply["status"] == "ok", reply
        msg_id = kc.execute("evolve 500")
        # Progress is one display updated in place; wait until a step has completed.
        display = None
        deadline = time.monotonic() + 120
        while True:
            m = kc.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] in ("display_data", "update_display_data") and m["content"]["data"]["text/plain"].startswith("evolve ["):
                assert m["content"]["metadata"]["mstar"]["progress"]
                display = display or m["content"]["transient"]["display_id"]
                assert m["content"]["transient"]["display_id"] == display
                done = int(m["content"]["data"]["text/plain"].split("] ")[1].split("/")[0])
                assert not m["content"]["data"]["text/plain"].endswith(" ")
                if done >= 1:
                    break
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=120)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "Interrupted"
        # The session stays consistent: the completed iterations are kept and journaled.
        reply, msgs = run_cell(kc, "dynamics")
        (table,) = [c for t, c in msgs if t == "display_data"]
        assert reply["status"] == "ok" and "<th>RP@2</th>" in table["data"]["text/html"] and "RP@2" in table["data"]["text/plain"]
        (run,) = run_dirs(path)
        steps = len((run / "dynamics.jsonl").read_text().splitlines())
        assert steps >= 1 and f"\nevolve {steps}\n" in (run / "session.mstar").read_text()

        # Restart: a new process with a new session and run directory; the old journal stays.
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        reply, msgs = run_cell(kc, "seed 7")
        assert reply["status"] == "ok" and reply["execution_count"] == 1 and stdout(msgs) == "seed = 7\n"
        assert len(run_dirs(path)) == 2
    finally:
        stop(km, kc)


def test_nbclient_runs_quickstart_cells_and_the_notebook_verifies(mstar, jupyter):
    path, env = jupyter
    cells = [
        nbformat.v4.new_markdown_cell("# Quickstart, small\nThe recipe from the shipped policy, in seconds."),
        nbformat.v4.new_code_cell("set threads 1\nset numerics portable\nseed 0\ndata generate --fraction 0.02"),
        # A relative path, as people type it: the journal resolves it, and both still replay.
        nbformat.v4.new_code_cell(f"load {os.path.relpath(ROOT / 'checkpoints' / 'pre-evolved-replay', path)}\nmodel info"),
        nbformat.v4.new_code_cell("recipe mstar\nset prompts 8\nset k 4\nset dynamics_prompts 4\nset dynamics_k 2\n"
                                  "set temperature_prompts 4\nset temperature_step 0.4\nset prm_prompts 8\nset prm_epochs 1"),
        nbformat.v4.new_code_cell("prm train"),
        nbformat.v4.new_code_cell("evolve 2"),
        nbformat.v4.new_code_cell("dynamics"),
        nbformat.v4.new_code_cell("plot greedy_acc pass_at_k --title \"validation dynamics\""),
        nbformat.v4.new_code_cell("sample --prompt 0 --show 2"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": NAME, "display_name": "mstar", "language": "mstar"}})
    NotebookClient(nb, kernel_name=NAME, timeout=600, resources={"metadata": {"path": str(path)}}).execute()
    nbformat.validate(nb)
    assert nb.metadata.language_info.name == "mstar"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], outputs
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outputs)
    nbformat.write(nb, str(path / "quick.ipynb"))

    # The exported notebook replays to the same outputs, cell by cell; so does the kernel's journal.
    r = subprocess.run([mstar, "run", "quick.ipynb", "--verify", "--quiet", "--out", "replay-nb"],
                       env=env, cwd=str(path), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "every recorded output matches" in r.stderr
    (run,) = run_dirs(path)
    r = subprocess.run([mstar, "run", str(run / "session.mstar"), "--verify", "--quiet", "--out", "replay-journal"],
                       env=env, cwd=str(path), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
