"""`mstar eval --errors` on the shipped policy agrees with `mstar eval` on the same greedy responses."""
import json
import subprocess

from conftest import ROOT


def eval_json(mstar, workdir, *args):
    path, env = workdir
    r = subprocess.run([mstar, "eval", "--checkpoint", str(ROOT / "checkpoints" / "pre-evolved"), "--split", "test",
                        "--limit", "120", "--threads", "2", "--json", *args],
                       capture_output=True, text=True, env=env, cwd=str(path), timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_error_categories_add_up_to_the_greedy_accuracy(mstar, workdir):
    accuracy = eval_json(mstar, workdir, "--k", "0")
    errors = eval_json(mstar, workdir, "--errors")
    assert errors["overall"]["prompts"] == accuracy["prompts"] == 120
    for name, group in [("all", errors["overall"])] + sorted(errors["families"].items()):
        assert sum(group["counts"].values()) == group["prompts"], name
        right = group["counts"].get("right", 0) + group["counts"].get("right answer, wrong steps", 0)
        greedy = accuracy["greedy_acc"] if name == "all" else accuracy["families"][name]["greedy_acc"]
        assert right == round(greedy * group["prompts"]), name
    # The shipped policy gets some right and some wrong, so the check above compares real counts.
    assert 0 < errors["overall"]["counts"].get("right", 0) < 120
