"""Shared scripts are untrusted: injections leave no trace, kill -9 never loses a checkpoint or the
journal, piped input cannot swallow commands, and --update respects read-only scripts and links."""
import os
import random
import signal
import stat
import subprocess
import time

from conftest import ROOT

SHIPPED = ROOT / "checkpoints" / "pre-evolved"


def mstar_run(mstar, workdir, args, stdin=None, timeout=300):
    path, env = workdir
    return subprocess.run([mstar, *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=str(path), timeout=timeout)


def tree(path):
    """Every file and folder under `path`, relative to it."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# Each one, inside double quotes, was a gnuplot command, a shell command, or a line of the journal.
INJECTIONS = [
    '"`touch PWNED1`"',
    '"$(touch PWNED2)"',
    '"a\\nsystem \'touch PWNED3\'"',
    '"a\\rsystem \'touch PWNED4\'"',
    "\"x' ; system('touch PWNED5') ; '\"",
    '"@PWNED6"',
]


def test_injected_titles_labels_and_file_names_leave_no_trace(mstar, workdir):
    path, _ = workdir
    (path / "dyn.jsonl").write_text("".join(f'{{"step": {s}, "greedy_acc": {0.3 + 0.1 * s:.1f}}}\n' for s in range(4)))
    lines = []
    for i, text in enumerate(INJECTIONS):
        lines.append(f"plot greedy_acc --from dyn.jsonl --out t{i}.png --title {text}")
        lines.append(f"plot greedy_acc --from dyn.jsonl --out y{i}.png --ylabel {text}")
        lines.append(f"plot greedy_acc --from dyn.jsonl --out {text[:-1]}.png\"")
    lines += [
        'plot greedy_acc --from dyn.jsonl --out "x\\nsystem \'touch PWNED7\'\\n.png"',
        "plot greedy_acc --from dyn.jsonl --out ../../escaped.png",
        f"plot greedy_acc --from dyn.jsonl --out {path}/escaped.png",
        "model new --seed 1",
        "save ..", "save .", "save session.mstar", "save session session.mstar", f"save {path}",
    ]
    before = set(tree(path))
    script = path / "shared.mstar"
    script.write_text("\n".join(lines) + "\n")
    # Piped into the prompt, every command runs (failures go on); then the journal is replayed.
    r = mstar_run(mstar, workdir, ["--out", "runs/piped"], stdin=script.read_text())
    assert r.returncode == 1, r.stdout  # the refused commands failed
    journal = path / "runs" / "piped" / "session.mstar"
    r = mstar_run(mstar, workdir, ["run", str(journal), "--out", "runs/replayed", "--verify"])
    assert r.returncode == 0, r.stderr
    after = set(tree(path))
    new = sorted(after - before)
    # A file named PWNEDn is what a command that ran would have made (names with `...` are plain files).
    assert not [p for p in new if os.path.basename(p).startswith("PWNED")], new
    assert not [p for p in after if "escaped" in p], new
    assert all(p.startswith("runs") or p == "shared.mstar" for p in new), new
    assert not (ROOT / "PWNED1").exists() and not list(path.parent.glob("escaped*"))
    # The journal's lines are its commands and their outputs: no line of an injection became a command.
    commands = [line for line in journal.read_text().splitlines() if line and not line.startswith("#")]
    assert not [c for c in commands if c.startswith("system")], commands
    assert (path / "runs" / "piped" / "session.mstar").exists()


def test_kill_9_during_save_always_leaves_a_loadable_checkpoint(mstar, workdir):
    path, env = workdir
    run_dir = path / "runs" / "saves"
    saves = "".join("save ckpt\n" for _ in range(40))
    r = mstar_run(mstar, workdir, ["--out", str(run_dir)], stdin=f"load {SHIPPED}\nsave ckpt\n")
    assert r.returncode == 0, r.stdout
    rng = random.Random(0)
    for trial in range(20):
        p = subprocess.Popen([mstar, "--out", str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env, cwd=str(path), text=True)
        p.stdin.write(f"load {SHIPPED}\n" + saves)
        p.stdin.flush()
        time.sleep(rng.uniform(0.15, 1.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = mstar_run(mstar, workdir, ["--out", str(path / "runs" / f"check{trial}")],
                      stdin=f"load {run_dir}/ckpt\nmodel info\n")
        assert r.returncode == 0 and "parameters" in r.stdout, (trial, r.stdout)
    # The next save clears what the killed ones left.
    r = mstar_run(mstar, workdir, ["--out", str(run_dir)], stdin=f"load {SHIPPED}\nsave ckpt\n")
    assert r.returncode == 0, r.stdout
    left = [p.name for p in run_dir.iterdir() if p.name.startswith(".ckpt.tmp-")]
    assert left == [], left


def test_kill_9_during_run_leaves_a_journal_that_replays(mstar, workdir):
    path, env = workdir
    script = path / "long.mstar"
    script.write_text("".join(f"seed {i}\nsleep 0.1\n" for i in range(40)))
    rng = random.Random(1)
    for trial in range(5):
        out = path / "runs" / f"killed{trial}"
        p = subprocess.Popen([mstar, "run", str(script), "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env, cwd=str(path))
        time.sleep(rng.uniform(0.5, 2.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        journal = out / "session.mstar"
        assert journal.exists()
        text = journal.read_text()
        assert text.endswith("\n") and "seed 0\n#> seed = 0" in text
        r = mstar_run(mstar, workdir, ["run", str(journal), "--out", str(path / "runs" / f"replay{trial}"), "--verify", "--quiet"])
        assert r.returncode == 0, r.stderr


def test_piped_input_that_ends_inside_a_quote_is_an_error(mstar, workdir):
    path, _ = workdir
    r = mstar_run(mstar, workdir, ["--out", "runs/quote"], stdin='seed 1\nset plot_width "640\nseed 2\nseed 3\n')
    assert r.returncode == 1
    assert "error: the input ends inside the command that starts on line 2: a quote is still open" in r.stdout
    journal = (path / "runs" / "quote" / "session.mstar").read_text()
    assert "seed 1\n" in journal and "seed 2" not in journal


def test_update_refuses_a_read_only_script_and_follows_a_link(mstar, workdir):
    path, _ = workdir
    script = path / "s.mstar"
    script.write_text("seed 3\n")
    script.chmod(0o444)
    r = mstar_run(mstar, workdir, ["run", "s.mstar", "--update"])
    assert r.returncode != 0 and "is read-only" in r.stderr, r.stderr
    assert script.read_text() == "seed 3\n" and stat.S_IMODE(script.stat().st_mode) == 0o444

    real = path / "real.mstar"
    real.write_text("seed 4\n")
    real.chmod(0o640)
    link = path / "link.mstar"
    link.symlink_to(real)
    r = mstar_run(mstar, workdir, ["run", "link.mstar", "--update"])
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "seed 4\n#> seed = 4\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_a_run_directory_holding_someone_elses_files_is_refused(mstar, workdir):
    path, _ = workdir
    (path / "mine").mkdir()
    (path / "mine" / "notes.txt").write_text("precious")
    (path / "s.mstar").write_text("seed 1\n")
    r = mstar_run(mstar, workdir, ["run", "s.mstar", "--out", "mine"])
    assert r.returncode != 0 and "no mstar journal" in r.stderr, r.stderr
    assert tree(path / "mine") == ["notes.txt"]
    r = mstar_run(mstar, workdir, ["--out", "mine"], stdin="seed 2\n")
    assert r.returncode != 0 and tree(path / "mine") == ["notes.txt"]
