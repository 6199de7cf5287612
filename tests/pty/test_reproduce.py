"""`mstar reproduce` end to end at a tiny scale: the files it writes, their numbers against each other,
runs shared between experiments, and a second call that reuses every finished run."""
import json
import statistics
import subprocess

from conftest import ROOT

SCALE = ["--prompts", "16", "--epochs", "0.5", "--test-prompts", "16", "--ood-prompts", "8",
         "--dynamics-prompts", "8", "--temperature-prompts", "4", "--prm-prompts", "8"]
EXPERIMENTS = ["methods", "selection", "prompts", "temperature"]
FAMILIES = ["arithmetic", "counting", "comparison", "chart"]


def reproduce(mstar, workdir, *args):
    path, env = workdir
    cmd = [mstar, "reproduce", "--quick", "--seeds", "0,1", "--threads", "2", "--out", "out",
           "--policy", str(ROOT / "checkpoints" / "pre-evolved"), *SCALE, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(path), timeout=900)


def cell(fractions):
    """The table's 'mean ± sd' cell for these fractions, computed here (sample standard deviation)."""
    return f"{100 * statistics.mean(fractions):.1f} ± {100 * statistics.stdev(fractions):.1f}"


def interval_holds(text, outcomes):
    """A 'mean [low, high]' cell: its mean is that of these per-prompt outcomes, inside its interval."""
    mean, bounds = text.split(" [")
    low, high = (float(x) for x in bounds.rstrip("]").split(", "))
    flat = [x for seed in outcomes for x in seed]
    return mean == f"{100 * sum(flat) / len(flat):.1f}" and low <= float(mean) <= high


def test_reproduce_writes_consistent_results_and_reuses_finished_runs(mstar, workdir):
    r = reproduce(mstar, workdir)
    assert r.returncode == 0, r.stderr
    out = workdir[0] / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary) == sorted(EXPERIMENTS + ["verifier", "statistics"])
    from scipy.stats import binomtest

    for experiment in EXPERIMENTS:
        table = (out / f"{experiment}.md").read_text()
        for variant, seeds in summary[experiment].items():
            assert sorted(seeds) == ["0", "1"], (experiment, variant)
            for m in seeds.values():
                for key in ("test_greedy", "test_pass_at_16", "ood_greedy", "ood_pass_at_16"):
                    assert 0 <= m[key] <= 1, (variant, key, m[key])
                assert sorted(m["test_families"]) == sorted(FAMILIES)
                assert (m["iterations"] == 0) == (variant == "pre-evolved"), (variant, m["iterations"])
                assert m["seconds"] > 0
            # Each run keeps its per-prompt greedy outcomes, and they make its greedy accuracy.
            for m in seeds.values():
                assert len(m["test_greedy_correct"]) == 16
                assert abs(sum(m["test_greedy_correct"]) / 16 - m["test_greedy"]) < 1e-12
                assert len(m["test_correct_counts"]) == 16 and all(0 <= c <= 16 for c in m["test_correct_counts"])
                assert abs(sum(c > 0 for c in m["test_correct_counts"]) / 16 - m["test_pass_at_16"]) < 1e-12
                assert abs(sum(m["ood_greedy_correct"]) / 8 - m["ood_greedy"]) < 1e-12
                assert abs(sum(c > 0 for c in m["ood_correct_counts"]) / 8 - m["ood_pass_at_16"]) < 1e-12
            # The row: test greedy mean over seeds and prompts inside its 95% interval; the paired
            # McNemar p against the experiment's first variant as SciPy's exact binomial test gives
            # it; the other columns mean ± standard deviation of the seeds' numbers.
            greedy = [seeds[s]["test_greedy"] for s in ("0", "1")]
            ood = [seeds[s]["ood_pass_at_16"] for s in ("0", "1")]
            row = next(line for line in table.splitlines() if line.startswith(f"| {variant} |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            mean, bounds = cells[1].split(" [")
            low, high = (float(x) for x in bounds.rstrip("]").split(", "))
            assert mean == f"{100 * statistics.mean(greedy):.1f}" and low <= float(mean) <= high, (variant, row)
            first_variant = table.split("| vs ")[1].split(" [")[0]
            if variant != first_variant:
                base = summary[experiment][first_variant]
                only_a = sum(a and not b for s in ("0", "1") for a, b in zip(seeds[s]["test_greedy_correct"], base[s]["test_greedy_correct"]))
                only_b = sum(b and not a for s in ("0", "1") for a, b in zip(seeds[s]["test_greedy_correct"], base[s]["test_greedy_correct"]))
                p = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
                assert cells[3] == ("< 0.001" if p < 0.001 else f"{p:.3f}"), (variant, row, p)
                stats = summary["statistics"][experiment][variant]["versus_baseline"]
                assert (stats["onlyA"], stats["onlyB"]) == (only_a, only_b)
            # Every other cell: the mean of its per-prompt outcomes inside its 95% interval.
            runs = [seeds[s] for s in ("0", "1")]
            assert interval_holds(cells[4], [[c > 0 for c in m["test_correct_counts"]] for m in runs]), (variant, row)
            assert interval_holds(cells[-2], [m["ood_greedy_correct"] for m in runs]), (variant, row)
            assert interval_holds(cells[-1], [[c > 0 for c in m["ood_correct_counts"]] for m in runs]), (variant, row)
            for i, family in enumerate(FAMILIES):
                # The family's test prompts are those whose outcomes make its greedy accuracy.
                assert cells[5 + i].split(" [")[0] == f"{100 * statistics.mean(m['test_families'][family]['greedy'] for m in runs):.1f}", (family, row)
            # One figure per question (the methods experiment has three), each a PNG.
            panels = ["methods-methods", "methods-intervals", "methods-recipe"] if experiment == "methods" else [experiment]
            for panel in panels:
                assert (out / "plots" / f"{panel}-greedy_acc.png").read_bytes()[:4] == b"\x89PNG", panel

    # Identical settings listed by two experiments are one run.
    assert summary["selection"]["all correct"] == summary["methods"]["continuous (interval 0.25)"]
    assert summary["temperature"]["dynamic (Reward-Pass@2)"] == summary["methods"]["mstar (full recipe)"]
    # The evolved policies differ from the pre-evolved one somewhere in their results.
    base = summary["methods"]["pre-evolved"]["0"]
    assert any(summary["methods"][v]["0"] != base for v in summary["methods"] if v != "pre-evolved")

    verifier = summary["verifier"]["0"]
    assert verifier["n"] == [1, 2, 4, 8, 16]
    assert all(verifier["pass_at_n"][i] <= verifier["pass_at_n"][i + 1] for i in range(4))  # Pass@N grows with N
    verifier_table = (out / "verifier.md").read_text()
    for j, n in enumerate(verifier["n"]):
        row = next(line for line in verifier_table.splitlines() if line.startswith(f"| {n} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        for k, way in enumerate(["pass_at_n", "majority", "prm_best_of_n", "prm_weighted_vote"]):
            per_seed = [summary["verifier"][s]["outcomes"][way][j] for s in ("0", "1")]
            assert all(abs(sum(o) / 16 - summary["verifier"][s][way][j]) < 1e-12 for s, o in zip(("0", "1"), per_seed))
            assert interval_holds(cells[1 + k], per_seed), (way, n, row)

    run = json.loads((out / "run.json").read_text())
    assert run["seeds"] == [0, 1] and run["scale"]["prompts"] == 16 and run["scale"]["epochs"] == 0.5
    assert run["run_seconds"] > 0 and "--prompts 16" in run["command"]
    assert (out / "runs" / "prompts16-epochs0.5-dynamics8-temperature4-test16-ood8-prm8").is_dir()
    assert "Seeds 0, 1" in (out / "README.md").read_text()

    # A second call finds every run finished: nothing trains, and the numbers are the same bytes.
    first = (out / "summary.json").read_bytes()
    again = reproduce(mstar, workdir)
    assert again.returncode == 0, again.stderr
    assert " step " not in again.stderr and "PRM on" not in again.stderr, again.stderr
    assert (out / "summary.json").read_bytes() == first

    # A run recorded before per-prompt outcomes were kept: its variant's cells fall back to mean ± sd.
    legacy = out / "runs" / "prompts16-epochs0.5-dynamics8-temperature4-test16-ood8-prm8" / "pre-evolved" / "seed-1" / "metrics.json"
    m = json.loads(legacy.read_text())
    for key in ("test_greedy_correct", "test_correct_counts", "ood_greedy_correct", "ood_correct_counts"):
        del m[key]
    legacy.write_text(json.dumps(m))
    again = reproduce(mstar, workdir)
    assert again.returncode == 0, again.stderr
    row = next(line for line in (out / "methods.md").read_text().splitlines() if line.startswith("| pre-evolved |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    runs = [summary["methods"]["pre-evolved"][s] for s in ("0", "1")]
    assert cells[-1] == cell([r["ood_pass_at_16"] for r in runs]), row
    assert "no per-prompt outcomes recorded" in (out / "methods.md").read_text()


def test_reproduce_refuses_bad_names_and_scales_in_one_line(mstar, workdir):
    r = reproduce(mstar, workdir, "--variants", "no such variant")
    assert r.returncode != 0
    assert "no variant 'no such variant'" in r.stderr
    r = reproduce(mstar, workdir, "--epochs", "0")
    assert r.returncode != 0
    assert "--epochs must be above 0" in r.stderr
    r = reproduce(mstar, workdir, "--scale", "huge")
    assert r.returncode != 0
    assert "no scale 'huge'; scales: full, quick, resolving" in r.stderr
    assert not (workdir[0] / "out" / "summary.json").exists()
