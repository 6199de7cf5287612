"""`mstar run FILE`: replay into a run directory, --verify, --update, --ipynb checked by nbformat, and a
notebook replayed and verified cell by cell."""
import json
import subprocess

import nbformat

SCRIPT = """# %% [markdown]
# # Replay test
# A markdown cell.

# %%
seed 0
data show --split text --index 5
plot greedy_acc --from dyn.jsonl
"""


def run(mstar, workdir, *args):
    path, env = workdir
    return subprocess.run([mstar, "run", *args], capture_output=True, text=True, env=env, cwd=str(path), timeout=120)


def setup(workdir):
    path, _ = workdir
    (path / "dyn.jsonl").write_text("".join(f'{{"step": {s}, "greedy_acc": {0.3 + 0.1 * s:.1f}}}\n' for s in range(4)))
    (path / "s.mstar").write_text(SCRIPT)
    return path / "s.mstar"


def test_update_then_verify_then_catch_a_change(mstar, workdir):
    script = setup(workdir)
    r = run(mstar, workdir, "s.mstar", "--update")
    assert r.returncode == 0, r.stderr
    text = script.read_text()
    assert "#> seed = 0\n" in text
    assert "#> answer:   2\n" in text
    assert "#> greedy accuracy: 4 points, x 0..3, min 0.3, max 0.6, last 0.6\n#> [plot: plots/greedy_acc.png]\n" in text
    assert r.stdout.rstrip("\n") == text.rstrip("\n")  # the replay prints the updated script

    run_dir = workdir[0] / "runs" / "s"
    assert (run_dir / "plots" / "greedy_acc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data show --split text --index 5 --scale 4\n" in (run_dir / "session.mstar").read_text()

    r = run(mstar, workdir, "s.mstar", "--verify", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "every recorded output matches" in r.stderr

    script.write_text(text.replace("last 0.6", "last 0.7"))
    r = run(mstar, workdir, "s.mstar", "--verify", "--quiet")
    assert r.returncode == 1
    assert "s.mstar:16: output of 'plot greedy_acc --from dyn.jsonl' differs" in r.stderr
    assert "expected: #> greedy accuracy: 4 points, x 0..3, min 0.3, max 0.6, last 0.7" in r.stderr
    assert "actual:   #> greedy accuracy: 4 points, x 0..3, min 0.3, max 0.6, last 0.6" in r.stderr


def test_ipynb_is_valid_nbformat_45(mstar, workdir):
    setup(workdir)
    r = run(mstar, workdir, "s.mstar", "--out", "out", "--quiet", "--ipynb", "s.ipynb")
    assert r.returncode == 0, r.stderr
    nb = nbformat.read(str(workdir[0] / "s.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    outputs = nb.cells[1].outputs
    assert outputs[0].output_type == "stream" and outputs[0].text.startswith("seed = 0\nid: text-000005")
    assert outputs[1].output_type == "display_data" and "image/png" in outputs[1].data
    assert outputs[1].metadata["mstar"]["recorded"] == ["#> [plot: plots/greedy_acc.png]"]
    assert nb.metadata.kernelspec.name == "mstar"


def test_a_notebook_replays_and_verifies_per_cell(mstar, workdir):
    path, _ = workdir
    setup(workdir)
    r = run(mstar, workdir, "s.mstar", "--out", "out", "--quiet", "--ipynb", "s.ipynb")
    assert r.returncode == 0, r.stderr

    r = run(mstar, workdir, "s.ipynb", "--verify", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "3 commands replayed into runs/s; every recorded output matches" in r.stderr
    assert (path / "runs" / "s" / "plots" / "greedy_acc.png").exists()

    nb = json.loads((path / "s.ipynb").read_text())
    stream = nb["cells"][1]["outputs"][0]
    assert stream["name"] == "stdout"
    stream["text"] = [t.replace("last 0.6", "last 0.7") for t in stream["text"]]
    (path / "changed.ipynb").write_text(json.dumps(nb))
    r = run(mstar, workdir, "changed.ipynb", "--verify", "--quiet")
    assert r.returncode == 1
    assert "changed.ipynb cell 2: output of 'plot greedy_acc --from dyn.jsonl' differs" in r.stderr
    assert "expected: #> greedy accuracy: 4 points, x 0..3, min 0.3, max 0.6, last 0.7" in r.stderr


def test_update_on_a_notebook_is_refused(mstar, workdir):
    path, _ = workdir
    (path / "n.ipynb").write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}')
    r = run(mstar, workdir, "n.ipynb", "--update")
    assert r.returncode != 0
    assert "--update rewrites .mstar scripts; to refresh a notebook, re-run it in Jupyter or export it with --ipynb" in r.stderr
    assert not (path / "runs").exists()


def test_failing_command_stops_the_run(mstar, workdir):
    path, _ = workdir
    (path / "bad.mstar").write_text("seed 1\nstpe 3\nseed 2\n")
    r = run(mstar, workdir, "bad.mstar", "--quiet")
    assert r.returncode == 1
    assert "bad.mstar:2 (cell 1): 'stpe 3' failed: unknown command 'stpe'" in r.stderr
    journal = (path / "runs" / "bad" / "session.mstar").read_text()
    assert "seed 1\n" in journal and "seed 2" not in journal
