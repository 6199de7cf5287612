"""`data load --format` on the real-dataset fixtures (Tests/Fixtures/datasets) through `mstar run`."""
import shutil
import subprocess

from conftest import ROOT

FIXTURES = ROOT / "Tests" / "Fixtures" / "datasets"

SCRIPT = """data load datasets/mathvista/testmini.json --as mv
data load datasets/m3cot/test.jsonl --as m3 --seed 5 --unlabelled 0.4 --validation 0.2 --test 0.2
data load datasets/scienceqa/problems.json --as sq --format scienceqa
data load datasets/llava/train.jsonl --as ll
data load datasets/mstar/data.jsonl --as digits
data show --dataset mv --index 2
"""


def run(mstar, workdir, *args):
    path, env = workdir
    return subprocess.run([mstar, "run", *args], capture_output=True, text=True, env=env, cwd=str(path), timeout=120)


def setup(workdir):
    path, _ = workdir
    # Links are copied as links: the LLaVA fixture's escaping link must stay one.
    shutil.copytree(FIXTURES, path / "datasets", symlinks=True)
    (path / "s.mstar").write_text(SCRIPT)
    return path / "s.mstar"


def test_data_load_reads_every_layout_and_names_bad_records(mstar, workdir):
    setup(workdir)
    r = run(mstar, workdir, "s.mstar")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # One summary per layout.
    assert "#> mv: 6 mathvista items; 4 bad records skipped\n" in out
    assert "#> splits (seed 0): labelled 4, unlabelled 0, validation 1, test 1\n" in out
    assert "#> answer types: integer 1, float 1, text 1, list 1, choice 2\n" in out
    assert "#> images: 6 (png 5, jpeg 1), at most 64x48 pixels\n" in out
    assert "#> m3: 5 m3cot items; 3 bad records skipped\n" in out
    assert "#> splits (seed 5): labelled 1, unlabelled 2, validation 1, test 1\n" in out
    assert "#> sq: 5 scienceqa items; 3 bad records skipped\n" in out
    assert "#> images: 2 (png 2, jpeg 0), at most 32x16 pixels; 3 text-only items\n" in out
    assert "#> ll: 5 llava items; 4 bad records skipped\n" in out
    assert "#> digits: 2 examples (arithmetic 2, counting 0, comparison 0, chart 0); 0 bad lines skipped\n" in out
    # Bad records by FILE:LINE (JSONL), FILE[INDEX] (JSON array), FILE["KEY"] (object keyed by id).
    assert '#> skipped datasets/m3cot/test.jsonl:6: "answer": "F" is not one of the 4 choices (A to D)\n' in out
    assert "#> skipped datasets/llava/train.jsonl:7: not valid JSON\n" in out
    assert ('#> skipped datasets/llava/train.jsonl:8: image "images/escape.png" leads outside the dataset\'s folder '
            "through a link; image files must lie inside the dataset file's folder\n") in out
    assert ('#> skipped datasets/scienceqa/problems.json[5]: image "/etc/passwd" is an absolute path; '
            "image paths must be relative to the dataset file's folder\n") in out
    assert '#> skipped datasets/mathvista/testmini.json["9"]: image "images/huge.png" is 5000x5000 pixels' in out
    # One item shown.
    assert "#> answer:   C (triangle)\n#> image:    images/3.jpg (jpeg, 16x16 pixels, 333 bytes)\n" in out

    journal = (workdir[0] / "runs" / "s" / "session.mstar").read_text()
    assert f"data load {workdir[0]}/datasets/mathvista/testmini.json --format auto --as mv --seed 0 " \
           "--unlabelled 0 --validation 0.1 --test 0.2\n" in journal


def test_recorded_splits_verify_on_replay(mstar, workdir):
    script = setup(workdir)
    r = run(mstar, workdir, "s.mstar", "--update", "--quiet")
    assert r.returncode == 0, r.stderr
    # Same file, same seed: the same splits, so every recorded output matches.
    r = run(mstar, workdir, "s.mstar", "--verify", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "every recorded output matches" in r.stderr
    # Another seed: the recorded summary no longer holds, and --verify names the command.
    script.write_text(script.read_text().replace("--as mv\n", "--as mv --seed 1\n", 1))
    r = run(mstar, workdir, "s.mstar", "--verify", "--quiet")
    assert r.returncode == 1
    assert "output of 'data " in r.stderr and "differs" in r.stderr


def test_a_file_with_no_valid_record_fails_the_script(mstar, workdir):
    path, _ = workdir
    (path / "bad.jsonl").write_text('{"id": "a", "question": "q", "choices": ["x", "y"], "answer": "Q"}\n')
    (path / "bad.mstar").write_text("data load bad.jsonl --as b\n")
    r = run(mstar, workdir, "bad.mstar", "--quiet")
    assert r.returncode == 1
    assert "bad.jsonl: no valid m3cot record (1 bad: " in r.stderr
    assert 'bad.jsonl:1: "answer": "Q" is not one of the 2 choices (A to B))' in r.stderr
