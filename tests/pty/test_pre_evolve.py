"""`mstar pre-evolve`'s warm-up options from the command line: replay, seed chains, bad input."""
import subprocess

from conftest import ROOT


def pre_evolve(mstar, workdir, *args):
    path, env = workdir
    return subprocess.run([mstar, "pre-evolve", "--threads", "1", *args],
                          capture_output=True, text=True, env=env, cwd=str(path), timeout=300)


def test_warmup_with_replay_and_more_seed_chains(mstar, workdir):
    out = workdir[0] / "warm"
    r = pre_evolve(mstar, workdir, "--from", str(ROOT / "checkpoints" / "pre-evolved"), "--pretrain-epochs", "0",
                   "--vision-steps", "0", "--warmup-epochs", "2", "--seed-chains", "20", "--warmup-replay", "12",
                   "--out", str(out))
    assert r.returncode == 0, r.stderr
    # 20 seed chains + 12 replayed examples = 32 per epoch: one batch of 32, two epochs.
    assert "warm-up: 32 examples, 2 steps" in r.stdout, r.stdout
    assert "vision:" not in r.stdout and "pretrain:" not in r.stdout
    assert (out / "model.safetensors").exists()


def test_bad_seed_chain_count_is_refused_before_any_work(mstar, workdir):
    r = pre_evolve(mstar, workdir, "--seed-chains", "0", "--out", str(workdir[0] / "never"))
    assert r.returncode != 0
    assert r.stderr.startswith("Error: --seed-chains must be at least 1"), r.stderr
    assert not (workdir[0] / "never").exists()
