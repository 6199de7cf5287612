"""The LLaMA-Factory and ms-swift hand-off, checked with those tools' own code.

    tests/peer/install_trainers.sh     # once: .venv-trainers/{llamafactory,swift}
    python3 -m pytest -q -p no:cacheprovider tests/peer/test_trainer_formats.py

`mstar selection export` writes a real step's selection; then, in each trainer's environment:
- readers: LLaMA-Factory 0.9.5's dataset pipeline (dataset_info.json entry, sharegpt converter, template,
  tokenizer, multimodal plugin, training collator) and ms-swift 4.6's (load_dataset, template encode,
  collator) read it: every example, its user and assistant turns, one <image> tag per image, the images open,
  the loss is on the response only; a tag without its image is rejected (negative control);
- config parsers: the per-iteration YAMLs mstar writes (`mstar trainer plan`, run by `mstar_plans` below:
  LLaMA-Factory's for `llamafactory-cli train`, ms-swift's for `swift sft`; continuous, iterative RFT and
  ReST-EM) pass `get_train_args` and `SftArguments` with the values meant; keys the parsers do not know are
  rejected;
- training: two continuous iterations on a tiny LLaVA through the command lines mstar shows, on the YAMLs it
  wrote: the second resumes the first's checkpoint and reproduces one uninterrupted call loss for loss; with
  the base model instead of the checkpoint as the model (the negative control) it does not (weights not
  restored); an iterative-RFT iteration leaves its model where mstar reads it.
Skipped when .venv-trainers (or $MSTAR_TRAINERS_VENV) lacks a tool's environment.
"""
import dataclasses
import json
import math
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENVS = pathlib.Path(os.environ.get("MSTAR_TRAINERS_VENV", ROOT / ".venv-trainers"))
LF_BIN = VENVS / "llamafactory" / "bin"
SWIFT_BIN = VENVS / "swift" / "bin"
CHECK_DATA = HERE / "check_trainer_data.py"
CHECK_CONFIG = HERE / "check_trainer_config.py"
sys.path.insert(0, str(ROOT / "tests" / "pty"))
from conftest import mstar_binary  # noqa: E402

needs_lf = pytest.mark.skipif(not (LF_BIN / "python").exists(),
                              reason=f"no LLaMA-Factory environment in {VENVS} (tests/peer/install_trainers.sh)")
needs_swift = pytest.mark.skipif(not (SWIFT_BIN / "python").exists(),
                                 reason=f"no ms-swift environment in {VENVS} (tests/peer/install_trainers.sh)")

# Offline, one thread per process (the same arithmetic in every call: the loss-for-loss comparison needs it).
ENV = {k: v for k, v in os.environ.items() if k not in ("ROOT_IMAGE_DIR", "PYTHONPATH", "VIRTUAL_ENV")}
ENV.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
           OMP_NUM_THREADS="1", LLAMAFACTORY_VERBOSITY="WARN")

IMAGE_TOKENS = 16  # tests/peer/make_tiny_llava.py: a 32x32 image in 8x8 patches
IMAGE_SIZE = [48, 32]  # a digit scene as `selection export` writes it
BATCH = 2
LR = 1e-3

SCRIPT = """load {policy}
set prompts 32
set k 8
set max_tokens 24
set dynamics_prompts 4
set dynamics_k 2
step
selection export --format llamafactory --out llamafactory
selection export --format swift --out swift
"""


def start(cmd, *, cwd, env=None):
    """Starts a checker (they print JSON lines on stdout, their logs on stderr)."""
    return subprocess.Popen([str(c) for c in cmd], cwd=str(cwd), env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def results_of(process, timeout=300):
    """A checker's return code, JSON lines and stderr."""
    stdout, stderr = process.communicate(timeout=timeout)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert lines, stderr[-6000:]
    return process.returncode, lines, stderr


def run_json(cmd, *, cwd, env=None, expect_ok=True):
    """Runs a checker to its end; its JSON lines, and its return code and stderr."""
    rc, lines, stderr = results_of(start(cmd, cwd=cwd, env=env))
    if expect_ok:
        assert rc == 0, json.dumps(lines)[-2000:] + stderr[-6000:]
    return lines, (rc, stderr)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A step's selection exported by mstar in the LLaMA-Factory and ms-swift layouts."""
    if not ((LF_BIN / "python").exists() or (SWIFT_BIN / "python").exists()):
        pytest.skip(f"no trainer environment in {VENVS}")
    folder = tmp_path_factory.mktemp("export")
    (folder / "export.mstar").write_text(SCRIPT.format(policy=ROOT / "checkpoints" / "pre-evolved"))
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin", "MSTAR_DIGITS": str(ROOT / "data" / "digits.csv.gz")}
    p = subprocess.run([mstar_binary(), "run", "export.mstar", "--out", "run", "--quiet"], cwd=str(folder), env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    run = folder / "run"
    selected = int(re.search(r"(\d+) selected", (run / "session.mstar").read_text()).group(1))
    assert selected > 0
    records = {
        "llamafactory": json.loads((run / "llamafactory" / "train.json").read_text()),
        "swift": [json.loads(line) for line in (run / "swift" / "train.jsonl").read_text().splitlines()],
    }
    assert len(records["llamafactory"]) == len(records["swift"]) == selected
    return run, selected, records


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    """A tiny random LLaVA (tests/peer/make_tiny_llava.py), built with a trainer environment's transformers."""
    python = LF_BIN / "python" if (LF_BIN / "python").exists() else SWIFT_BIN / "python"
    if not python.exists():
        pytest.skip(f"no trainer environment in {VENVS}")
    out = tmp_path_factory.mktemp("tiny-llava") / "model"
    p = subprocess.run([str(python), str(HERE / "make_tiny_llava.py"), str(out)], env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    return out


def responses(records):
    return [r["messages"][-1]["content"] for r in records]


def check_examples(result, records, *, tokenized):
    """The checks every trainer's reading of the selection must pass."""
    examples = result["examples"]
    assert len(examples) == len(records)
    for example in examples:
        assert example["roles"] == ["user", "assistant"]
        assert example["image_tags"] == len(example["images"]) == 1  # one <image> tag per image
        assert example["images_open"] == [IMAGE_SIZE] * len(example["images"])
        if tokenized:
            assert "encode_error" not in example, example
            assert example["image_tokens"] == IMAGE_TOKENS * len(example["images"])
            assert example["label_text"] == example["response"] + result["eos_token"]  # loss on the response only
    assert [e["response"] for e in examples] == responses(records)  # what mstar wrote, in order
    if tokenized:
        assert result["batch"]["pixel_values"][0] == len(records)
        assert result["batch"]["pixel_values"][1:] == [3, 32, 32]


# ---------------------------------------------------------------------------------------------------------
# Readers


@needs_lf
def test_llamafactory_reads_the_selection_with_its_own_pipeline(exported, tiny_llava, tmp_path):
    run, selected, records = exported
    folder = run / "llamafactory"
    [result], _ = run_json([LF_BIN / "python", CHECK_DATA, "llamafactory", folder, "--model", tiny_llava,
                            "--template", "llava"], cwd=tmp_path)  # another directory: nothing is cwd-relative
    assert result["version"] == "0.9.5"
    assert (result["formatting"], result["load_from"]) == ("sharegpt", "file")
    assert result["media_dir"] == str(folder)  # images resolve against dataset_dir
    for example, record in zip(result["examples"], records["llamafactory"]):
        assert example["images"] == [str(folder / p) for p in record["images"]]
    check_examples(result, records["llamafactory"], tokenized=True)


@needs_lf
def test_llamafactory_rejects_an_image_tag_without_its_image(exported, tiny_llava, tmp_path):
    """Negative control: the plugin's count of <image> tags against images is live in the reader."""
    run, _, _ = exported
    folder = tmp_path / "broken"
    shutil.copytree(run / "llamafactory", folder)
    data = json.loads((folder / "train.json").read_text())
    data[0]["messages"][0]["content"] = "<image>" + data[0]["messages"][0]["content"]
    (folder / "train.json").write_text(json.dumps(data))
    [result], (rc, _) = run_json([LF_BIN / "python", CHECK_DATA, "llamafactory", folder, "--model", tiny_llava,
                                  "--template", "llava"], cwd=tmp_path, expect_ok=False)
    assert rc == 1
    assert "does not match the number of <image> tokens" in result["error"]


@needs_swift
def test_swift_reads_the_selection_with_its_own_pipeline(exported, tiny_llava, tmp_path):
    run, selected, records = exported
    folder = run / "swift"
    env = swift_env(folder)  # ROOT_IMAGE_DIR, as mstar sets it for `swift sft`
    [result], _ = run_json([SWIFT_BIN / "python", CHECK_DATA, "swift", folder / "train.jsonl", "--model", tiny_llava,
                            "--model-type", "llava1_5_hf"], cwd=tmp_path, env=env)
    assert result["version"] == "4.6.0" and result["template"] == "llava1_5_hf"
    for example, record in zip(result["examples"], records["swift"]):
        assert example["images"] == record["images"]
    check_examples(result, records["swift"], tokenized=True)


@needs_swift
def test_swift_resolves_relative_image_paths_against_the_working_directory(exported, tiny_llava, tmp_path):
    """ms-swift resolves a relative image path against the current directory or $ROOT_IMAGE_DIR, not the JSONL
    file's folder: started elsewhere without ROOT_IMAGE_DIR, none of the images opens (ms-swift then takes
    the string for base64 and fails to decode it), which is why mstar sets ROOT_IMAGE_DIR for the trainer."""
    run, _, records = exported
    folder = run / "swift"
    if all(os.path.isabs(p) for r in records["swift"] for p in r["images"]):
        pytest.skip("the export writes absolute image paths")
    runs = [start([SWIFT_BIN / "python", CHECK_DATA, "swift", folder / "train.jsonl", "--model", tiny_llava,
                   "--model-type", "llava1_5_hf"], cwd=tmp_path),
            start([SWIFT_BIN / "python", CHECK_DATA, "swift", "train.jsonl"], cwd=folder)]
    (rc1, [elsewhere], err1), (rc2, [inside], err2) = [results_of(p) for p in runs]
    assert rc1 == rc2 == 0, err1[-3000:] + err2[-3000:]
    assert elsewhere["root_image_dir"] is None
    assert all(e["images_open"] == [None] and "encode_error" in e for e in elsewhere["examples"])
    check_examples(inside, records["swift"], tokenized=False)


# ---------------------------------------------------------------------------------------------------------
# Per-iteration trainer configs: the ones mstar writes. `trainer KIND --config FILE`, then `trainer plan --data
# FOLDER --out DIR [--resume CHECKPOINT]` writes DIR/mstar-train.yaml (DIR is also the trainer's output_dir;
# ms-swift's is DIR/output: it copies its YAML into its output_dir and fails when the file is already there)
# and shows the command line, running nothing. The tests parse and train with those files as they are; only
# the negative controls and the parsers' rejection cases hand-edit them.

TOOLS = ("llamafactory", "swift")


def output_dir(tool, out):
    """Where mstar points the trainer's output_dir for a plan with --out `out`."""
    return out / "output" if tool == "swift" else out
PROGRAMS = {"llamafactory": ["llamafactory-cli", "train"], "swift": ["swift", "sft"]}
# The tool's own settings in the trainer configuration (its "config"), for the tiny LLaVA.
OWN = {"llamafactory": {"template": "llava"}, "swift": {"model_type": "llava1_5_hf", "dataloader_num_workers": 0}}
PLAN_LINE = re.compile(r"#> iteration (\d+) \(([\w+-]+): (.+)\), (\d+) examples, steps (\d+) to (\d+)(?: of (\d+))?")


@dataclasses.dataclass
class Plan:
    """One `trainer plan`: the YAML mstar wrote, the command line it shows and its summary line."""
    tool: str
    yaml: pathlib.Path
    argv: list
    data: pathlib.Path
    iteration: int
    method: str
    start: str  # "starts from MODEL", "resumes CHECKPOINT" or "restarts from the initial model"
    examples: int
    start_step: int
    stop_step: int
    horizon: int | None


def mstar_plans(folder, plans, *, lr=LR, batch_size=BATCH):
    """Plans in one mstar session. Each plan is a dict: tool, model (the trainer configuration's "model", a
    folder), data (the selection folder in the tool's layout), out, and optionally resume (a checkpoint-N
    folder), epochs (train_epochs, default 1), method (default continuous), config (settings over OWN)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("plans-*.mstar")))
    script = [f"set lr {lr}", f"set batch_size {batch_size}"]
    for i, plan in enumerate(plans):
        tool = plan["tool"]
        config = folder / f"plans-{n}-{i}-{tool}.json"
        config.write_text(json.dumps({"model": str(plan["model"]), "config": {**OWN[tool], **plan.get("config", {})}}))
        script += [f"set method {plan.get('method', 'continuous')}", f"set train_epochs {plan.get('epochs', 1)}",
                   f"trainer {tool} --config {config}",
                   f"trainer plan --data {plan['data']} --out {plan['out']}"
                   + (f" --resume {plan['resume']}" if plan.get("resume") else "")]
    (folder / f"plans-{n}.mstar").write_text("\n".join(script) + "\n")
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([mstar_binary(), "run", f"plans-{n}.mstar", "--out", f"plans-{n}", "--allow-trainers",
                        "--write-anywhere", "--quiet"], cwd=str(folder), env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    # The journal: each command, then its output lines as `#> ...`.
    journal = (folder / f"plans-{n}" / "session.mstar").read_text().splitlines()
    outputs, current = [], None
    for line in journal:
        if line.startswith("trainer plan "):
            current = []
            outputs.append(current)
        elif line.startswith("#> ") and current is not None:
            current.append(line)
        elif not line.startswith("#"):
            current = None
    assert all(lines and PLAN_LINE.fullmatch(lines[0]) for lines in outputs), "\n".join(journal)
    assert len(outputs) == len(plans), "\n".join(journal)
    result = []
    for plan, lines in zip(plans, outputs):
        tool, out = plan["tool"], pathlib.Path(plan["out"])
        m = PLAN_LINE.fullmatch(lines[0])
        yaml = out / "mstar-train.yaml"
        assert f"#> wrote {out}/mstar-train.yaml" in lines and yaml.is_file(), lines
        [runs] = [line[len("#> runs: "):] for line in lines if line.startswith("#> runs: ")]
        argv = shlex.split(runs)
        assert argv == PROGRAMS[tool] + [str(yaml)], runs  # the YAML as the first argument (ms-swift: no --config)
        result.append(Plan(tool, yaml, argv, pathlib.Path(plan["data"]), int(m[1]), m[2], m[3], int(m[4]), int(m[5]),
                           int(m[6]), int(m[7]) if m[7] else None))
    return result


def iteration_configs(tmp_path, run, model, steps):
    """Iterations 1 and 2 of a continuous run as mstar plans them, {tool: Plan} each: iteration 2 resumes a
    checkpoint-N folder made for it (mstar reads its step from trainer_state.json; the parsers only check
    that the folder is there)."""
    outputs = {i: {t: tmp_path / "train" / t / str(i) for t in TOOLS} for i in (1, 2)}
    previous = {t: output_dir(t, outputs[1][t]) / f"checkpoint-{steps}" for t in TOOLS}
    for path in previous.values():
        path.mkdir(parents=True)
        (path / "trainer_state.json").write_text(json.dumps({"global_step": steps}))
    plans = mstar_plans(tmp_path / "plans", [dict(tool=t, model=model, data=run / t, out=outputs[i][t],
                                                  resume=previous[t] if i == 2 else None)
                                             for i in (1, 2) for t in TOOLS])
    first, second = ({p.tool: p for p in plans[:2]}, {p.tool: p for p in plans[2:]})
    for t in TOOLS:
        assert (first[t].iteration, first[t].start, first[t].start_step, first[t].stop_step) == (1, f"starts from {model}", 0, steps)
        assert (second[t].iteration, second[t].start) == (2, f"resumes {previous[t]}")
        assert (second[t].start_step, second[t].stop_step) == (steps, 2 * steps)
        assert first[t].method == second[t].method == "continuous" and first[t].examples == second[t].examples
    return (first, second), outputs, previous


# ---------------------------------------------------------------------------------------------------------
# Config parsers


def no_model(tmp_path, name="no-model"):
    """A model folder for plans that no parser reads: mstar wants the folder to exist, an empty one will do."""
    folder = tmp_path / name
    folder.mkdir()
    return folder


def edited(text, old, new):
    """`text` with mstar's line `old` replaced (a hand-edited variant must change what mstar wrote)."""
    assert old in text, (old, text)
    return text.replace(old, new)


@needs_lf
def test_llamafactory_parser_takes_the_iteration_configs(exported, tmp_path):
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    # No model is read by the parser: the configs name an empty model folder.
    empty = no_model(tmp_path)
    (first, second), outputs, previous = iteration_configs(tmp_path, run, empty, steps)
    # Another model and template, at a learning rate as real runs use it (mstar writes `learning_rate: 1e-05`).
    qwen_model = no_model(tmp_path, "Qwen2-VL-2B-Instruct")
    [qwen] = mstar_plans(tmp_path / "plans", [dict(tool="llamafactory", model=qwen_model, data=run / "llamafactory",
                                                    out=tmp_path / "train" / "qwen", config={"template": "qwen2_vl"})],
                         lr=1e-5)
    parsed, _ = run_json([LF_BIN / "python", CHECK_CONFIG, "llamafactory", first["llamafactory"].yaml,
                          second["llamafactory"].yaml, qwen.yaml], cwd=tmp_path)
    for result, lr in zip(parsed, [LR, LR, 1e-5]):
        assert "error" not in result, result
        assert result["stage"] == "sft" and result["finetuning_type"] == "full" and result["do_train"]
        assert result["dataset"] == ["mstar_selection"]
        assert result["dataset_dir"] == result["media_dir"] == str(run / "llamafactory")
        [dataset] = result["datasets"]
        assert dataset == {"dataset_name": "train.json", "file": str(run / "llamafactory" / "train.json"),
                           "load_from": "file", "formatting": "sharegpt"}
        assert result["lr_scheduler_type"] == "constant" and result["learning_rate"] == lr
        assert result["warmup_steps"] == 0 and result["seed"] == 0  # trainer plan's training seed is 0
        assert result["per_device_train_batch_size"] == BATCH and result["gradient_accumulation_steps"] == 1
        assert result["num_train_epochs"] == 1
        assert (result["save_strategy"], result["save_only_model"]) == ("steps", False)
        assert result["save_steps"] == result["max_steps"]
        assert result["overwrite_output_dir"] and result["report_to"] == []
        # mstar sets it in every continuous iteration: the first has nothing to skip.
        assert result["ignore_data_skip"] is True
    one, two, qwen_result = parsed
    assert (one["max_steps"], one["resume_from_checkpoint"]) == (steps, None)
    assert one["output_dir"] == str(outputs[1]["llamafactory"]) and one["template"] == "llava"
    assert one["model_name_or_path"] == str(empty)
    assert two["max_steps"] == 2 * steps and two["output_dir"] == str(outputs[2]["llamafactory"])
    assert two["resume_from_checkpoint"] == two["model_name_or_path"] == str(previous["llamafactory"])
    assert two["resume_exists"] is True
    assert qwen_result["template"] == "qwen2_vl" and qwen_result["model_name_or_path"] == str(qwen_model)
    assert not any(qwen_model.iterdir())  # the parser read no model files
    # LLaMA-Factory's defaults a multimodal SFT inherits: the vision tower and projector stay frozen.
    assert one["freeze_vision_tower"] and one["freeze_multi_modal_projector"]


@needs_lf
def test_llamafactory_parser_rejects_what_it_does_not_know(exported, tmp_path):
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    (first, _), _, _ = iteration_configs(tmp_path, run, no_model(tmp_path), steps)
    text = first["llamafactory"].yaml.read_text()
    cases = {
        "add_version": text + "add_version: false\n",  # ms-swift's key
        "resume_only_model": text + "resume_only_model: true\n",  # ms-swift's key
        "template": edited(text, 'template: "llava"\n', 'template: "no_such_template"\n'),
        "max_steps": edited(text, f"max_steps: {steps}\n", f'max_steps: "{steps}"\n'),  # parse_dict leaves types to us
        "dataset": edited(text, 'dataset: "mstar_selection"\n', 'dataset: "not_registered"\n'),
    }
    paths = []
    for name, body in cases.items():
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(body)
    results, (rc, _) = run_json([LF_BIN / "python", CHECK_CONFIG, "llamafactory", *paths], cwd=tmp_path,
                                expect_ok=False)
    assert rc == 1
    errors = {name: r.get("error", "") for name, r in zip(cases, results)}
    assert "not used by the HfArgumentParser: ['add_version']" in errors["add_version"]
    assert "not used by the HfArgumentParser: ['resume_only_model']" in errors["resume_only_model"]
    assert "Template no_such_template does not exist" in errors["template"]
    assert f"max_steps: '{steps}' is not of type int" in errors["max_steps"]
    assert "Undefined dataset not_registered" in errors["dataset"]


def swift_parse(args, cwd, env):
    return start([SWIFT_BIN / "python", CHECK_CONFIG, "swift", "sft", *args], cwd=cwd, env=env)


def swift_env(data):
    """The environment `swift sft` gets from mstar: ROOT_IMAGE_DIR is the selection folder (ms-swift resolves
    the relative image paths against it, else against the working directory). mstar adds it to the trainer's
    environment when it runs the trainer (TrainerLaunch); `trainer plan` runs nothing and shows only the
    command line, so a test that runs ms-swift by hand sets it, as mstar would."""
    return dict(ENV, ROOT_IMAGE_DIR=str(data))


@needs_swift
def test_swift_parser_takes_the_iteration_configs_and_rejects_other_names(exported, tiny_llava, tmp_path):
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    (first, second), outputs, previous = iteration_configs(tmp_path, run, tiny_llava, steps)
    text = first["swift"].yaml.read_text()
    # Besides the two iterations, what ms-swift 4.6 refuses or reads otherwise: ms-swift 3's train_type,
    # transformers 4's overwrite_output_dir, and the defaults of add_version and gradient_accumulation_steps.
    cases = {
        "train_type": edited(text, 'tuner_type: "full"\n', 'train_type: "full"\n'),
        "overwrite_output_dir": text + "overwrite_output_dir: true\n",
        "defaults": "\n".join(line for line in text.splitlines()
                              if not line.startswith(("add_version", "gradient_accumulation_steps",
                                                      "per_device_train_batch_size"))) + "\n",
    }
    assert len(cases["defaults"].splitlines()) == len(text.splitlines()) - 3
    paths = []
    for name, body in cases.items():
        paths.append(tmp_path / name / "swift.yaml")
        paths[-1].parent.mkdir()
        paths[-1].write_text(edited(body, str(outputs[1]["swift"]), str(tmp_path / name / "out")))
    # Two processes side by side (each loads ms-swift, ~6 s): the YAML files, and `--config FILE` (ms-swift
    # takes the file as the first argument, `swift sft FILE.yaml`, as mstar runs it; there is no --config option).
    env = swift_env(run / "swift")
    yaml_run = swift_parse([first["swift"].yaml, second["swift"].yaml, *paths], tmp_path, env)
    flag_run = swift_parse(["--config", first["swift"].yaml], tmp_path, env)
    rc, results, stderr = results_of(yaml_run)
    one, two, train_type, overwrite, defaults = results
    assert "error" not in one and "error" not in two, (one.get("error"), two.get("error"), stderr[-6000:])
    for result in (one, two):
        assert result["version"] == "4.6.0"
        assert (result["model_type"], result["template"], result["tuner_type"]) == ("llava1_5_hf", "llava1_5_hf", "full")
        assert result["dataset"] == [str(run / "swift" / "train.jsonl")] and result["split_dataset_ratio"] == 0
        assert result["add_version"] is False
        assert result["root_image_dir"] == str(run / "swift")
        assert result["lr_scheduler_type"] == "constant" and result["learning_rate"] == LR
        assert result["warmup_steps"] == 0 and result["seed"] == 0  # trainer plan's training seed is 0
        assert result["per_device_train_batch_size"] == BATCH and result["gradient_accumulation_steps"] == 1
        assert result["num_train_epochs"] == 1
        assert (result["save_strategy"], result["save_only_model"]) == ("steps", False)
        assert result["save_steps"] == result["max_steps"] and result["report_to"] == []
        assert result["check_model"] is False and result["resume_only_model"] is False
        assert result["ignore_data_skip"] is True  # mstar sets it in every continuous iteration
        # ms-swift's defaults a multimodal full fine-tune inherits: vision tower and aligner frozen.
        assert result["freeze_vit"] and result["freeze_aligner"] and not result["freeze_llm"]
    assert one["output_dir"] == str(outputs[1]["swift"] / "output")  # add_version false: exactly output_dir
    assert (one["max_steps"], one["resume_from_checkpoint"]) == (steps, None)
    assert one["model"] == str(tiny_llava)
    assert two["max_steps"] == 2 * steps and two["output_dir"] == str(outputs[2]["swift"] / "output")
    assert two["resume_from_checkpoint"] == two["model"] == str(previous["swift"])

    assert rc == 1
    assert "remaining_argv: ['--train_type', 'full']" in train_type["error"]
    assert "remaining_argv: ['--overwrite_output_dir', 'True']" in overwrite["error"]
    assert "error" not in defaults and defaults["add_version"] is True
    assert re.fullmatch(re.escape(str(tmp_path / "defaults" / "out" / "output")) + r"/v0-\d{8}-\d{6}", defaults["output_dir"])
    # Unless given, 16 examples an optimizer step: 16 / (batch 1 x 1 device) accumulated micro-batches.
    assert defaults["per_device_train_batch_size"] == 1 and defaults["gradient_accumulation_steps"] == 16
    rc, [flag], _ = results_of(flag_run)
    assert rc == 1 and "error" in flag


@needs_swift
def test_swift_parser_checks_that_the_checkpoint_to_resume_exists(exported, tiny_llava, tmp_path):
    run, selected, _ = exported
    (_, second), _, previous = iteration_configs(tmp_path, run, tiny_llava, math.ceil(selected / BATCH))
    shutil.rmtree(previous["swift"])
    yaml = second["swift"].yaml  # the model from the base directory, the state from a missing checkpoint
    yaml.write_text(edited(yaml.read_text(), f"model: {json.dumps(str(previous['swift']))}\n",
                           f"model: {json.dumps(str(tiny_llava))}\n"))
    rc, [result], _ = results_of(swift_parse([yaml], tmp_path, swift_env(run / "swift")))
    assert rc == 1 and "FileNotFoundError" in result["error"] and str(previous["swift"]) in result["error"]


def fresh_iterations(tmp_path, run, model, tool, steps):
    """Iterative RFT's iterations 1 and 2 and ReST-EM's iteration 2 as mstar plans them: no max_steps, no
    resume, a fresh optimizer; iteration 2 starts from the checkpoint given (RFT) or from π0 (ReST-EM)."""
    checkpoint = tmp_path / "train" / "1" / f"checkpoint-{steps}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": steps}))
    specs = [dict(method="iterative-rft"), dict(method="iterative-rft", resume=checkpoint),
             dict(method="rest-em", resume=checkpoint)]
    plans = mstar_plans(tmp_path / "plans", [dict(spec, tool=tool, model=model, data=run / tool,
                                                  out=tmp_path / "train" / f"{spec['method']}-{i}")
                                             for i, spec in enumerate(specs)])
    assert [(p.method, p.iteration, p.start, p.start_step, p.stop_step, p.horizon) for p in plans] == [
        ("iterative-rft", 1, f"starts from {model}", 0, steps, None),
        ("iterative-rft", 2, f"starts from {checkpoint}", 0, steps, None),
        ("rest-em", 2, "restarts from the initial model", 0, steps, None)]
    return plans, [str(model), str(checkpoint), str(model)]


@needs_lf
def test_llamafactory_parser_takes_the_fresh_iteration_configs(exported, tmp_path):
    """Iterative RFT and ReST-EM: LLaMA-Factory saves the final model in output_dir, no checkpoint."""
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    plans, models = fresh_iterations(tmp_path, run, no_model(tmp_path), "llamafactory", steps)
    parsed, _ = run_json([LF_BIN / "python", CHECK_CONFIG, "llamafactory", *[p.yaml for p in plans]], cwd=tmp_path)
    for result, plan, model in zip(parsed, plans, models):
        assert "error" not in result, result
        assert result["model_name_or_path"] == model and result["output_dir"] == str(plan.yaml.parent)
        assert (result["max_steps"], result["resume_from_checkpoint"], result["ignore_data_skip"]) == (-1, None, False)
        assert result["save_strategy"] == "no" and result["num_train_epochs"] == 1
        assert result["lr_scheduler_type"] == "constant" and result["learning_rate"] == LR
        assert result["overwrite_output_dir"] and result["finetuning_type"] == "full"


@needs_swift
def test_swift_parser_takes_the_fresh_iteration_configs(exported, tiny_llava, tmp_path):
    """Iterative RFT and ReST-EM: ms-swift saves the model only in checkpoints: one at the end of the epoch,
    weights only."""
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    plans, models = fresh_iterations(tmp_path, run, tiny_llava, "swift", steps)
    rc, parsed, stderr = results_of(swift_parse([p.yaml for p in plans], tmp_path, swift_env(run / "swift")))
    assert rc == 0 and all("error" not in r for r in parsed), ([r.get("error") for r in parsed], stderr[-6000:])
    for result, plan, model in zip(parsed, plans, models):
        assert result["model"] == model and result["output_dir"] == str(plan.yaml.parent / "output")
        assert (result["max_steps"], result["resume_from_checkpoint"], result["ignore_data_skip"]) == (-1, None, False)
        assert (result["save_strategy"], result["save_only_model"]) == ("epoch", True)
        assert result["num_train_epochs"] == 1 and result["tuner_type"] == "full" and result["add_version"] is False
        assert result["lr_scheduler_type"] == "constant" and result["learning_rate"] == LR


# ---------------------------------------------------------------------------------------------------------
# Training: two continuous iterations through the command lines mstar shows, on a tiny LLaVA


def train(plan):
    """Runs the command line mstar showed for `plan` (its program from the tool's environment) in the output
    folder, where mstar starts the trainer."""
    bin_dir = LF_BIN if plan.tool == "llamafactory" else SWIFT_BIN
    env = ENV if plan.tool == "llamafactory" else swift_env(plan.data)
    return subprocess.Popen([str(bin_dir / plan.argv[0]), *plan.argv[1:]], cwd=str(plan.yaml.parent), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process):
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-6000:]
    return output


def losses(tool, output_dir):
    """{global step: loss} from the tool's own log: LLaMA-Factory's trainer_log.jsonl, ms-swift's logging.jsonl."""
    if tool == "llamafactory":
        rows = [json.loads(line) for line in (output_dir / "trainer_log.jsonl").read_text().splitlines()]
        return {r["current_steps"]: r["loss"] for r in rows if "loss" in r}
    rows = [json.loads(line) for line in (output_dir / "logging.jsonl").read_text().splitlines()]
    return {int(r["global_step/max_steps"].split("/")[0]): r["loss"] for r in rows if "loss" in r}


def continuous_iterations(tool, exported, tiny_llava, tmp_path):
    """Iteration 1, iteration 2 resumed from it, one uninterrupted call over the same data twice (the
    reference, train_epochs 2), iteration 2 from the base model (the negative control) and an iterative-RFT
    iteration 2 from iteration 1's checkpoint; two or three processes at a time."""
    run, selected, _ = exported
    steps = math.ceil(selected / BATCH)
    out = {name: tmp_path / name for name in ("1", "2", "ref", "neg", "rft")}
    plans = tmp_path / "plans"
    data = run / tool
    first, reference = mstar_plans(plans, [dict(tool=tool, model=tiny_llava, data=data, out=out["1"]),
                                           dict(tool=tool, model=tiny_llava, data=data, out=out["ref"], epochs=2)])
    assert (first.iteration, first.start_step, first.stop_step) == (1, 0, steps)
    assert (reference.iteration, reference.start_step, reference.stop_step) == (1, 0, 2 * steps)
    wave = [train(first), train(reference)]
    logs = [finish(p) for p in wave]
    previous = output_dir(tool, out["1"]) / f"checkpoint-{steps}"
    second, negative, rft = mstar_plans(plans, [
        dict(tool=tool, model=tiny_llava, data=data, out=out["2"], resume=previous),
        dict(tool=tool, model=tiny_llava, data=data, out=out["neg"], resume=previous),
        dict(tool=tool, model=tiny_llava, data=data, out=out["rft"], resume=previous, method="iterative-rft")])
    assert (second.iteration, second.start, second.start_step, second.stop_step) == (2, f"resumes {previous}", steps, 2 * steps)
    assert (rft.iteration, rft.start, rft.start_step, rft.stop_step) == (2, f"starts from {previous}", 0, steps)
    # The negative control: the same iteration 2 but with the base model as the model to load (mstar loads the
    # checkpoint's: the only hand-edited file).
    key = "model_name_or_path" if tool == "llamafactory" else "model"
    negative.yaml.write_text(edited(negative.yaml.read_text(), f"{key}: {json.dumps(str(previous))}\n",
                                    f"{key}: {json.dumps(str(tiny_llava))}\n"))
    wave = [train(second), train(negative), train(rft)]
    logs += [finish(p) for p in wave]
    return steps, {name: output_dir(tool, folder) for name, folder in out.items()}, logs


def assert_continuous(tool, steps, dirs):
    one, two, ref, neg = (losses(tool, dirs[n]) for n in ("1", "2", "ref", "neg"))
    assert sorted(one) == list(range(1, steps + 1))
    assert sorted(two) == list(range(steps + 1, 2 * steps + 1))  # the global step goes on
    assert sorted(ref) == list(range(1, 2 * steps + 1))
    for step in one:
        assert one[step] == pytest.approx(ref[step], rel=1e-5)
    for step in two:  # weights, Adam moments, RNG and data order carried over
        assert two[step] == pytest.approx(ref[step], rel=1e-5), (two, ref)
    # The resume alone (base model loaded, then the checkpoint's state) restores no weights of this LLaVA.
    assert any(neg[step] != pytest.approx(ref[step], rel=1e-3) for step in two), (neg, ref)
    for name, end in (("1", steps), ("2", 2 * steps)):
        checkpoint = dirs[name] / f"checkpoint-{end}"
        for file in ("model.safetensors", "config.json", "optimizer.pt", "scheduler.pt", "rng_state.pth",
                     "trainer_state.json"):
            assert (checkpoint / file).is_file(), (checkpoint, sorted(os.listdir(dirs[name])))
        assert [p.name for p in dirs[name].glob("checkpoint-*")] == [f"checkpoint-{end}"]
        assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == end


def assert_fresh(tool, steps, dirs):
    """The iterative-RFT iteration: a fresh step counter, iteration 1's weights (its first batch is iteration
    1's first, seed 0 in both), and a model where mstar looks for it (TrainerOutputs.read: output_dir when it
    holds config.json, else the newest checkpoint-N; the per-step log from that one's trainer_state.json,
    else output_dir's)."""
    one, rft = losses(tool, dirs["1"]), losses(tool, dirs["rft"])
    assert sorted(rft) == list(range(1, steps + 1))
    assert rft[1] != pytest.approx(one[1], rel=1e-3), (rft, one)  # not the base model's loss on that batch
    out = dirs["rft"]
    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    model = out if (out / "config.json").is_file() else checkpoints[-1]
    assert (model / "config.json").is_file() and (model / "model.safetensors").is_file(), sorted(os.listdir(out))
    state = json.loads(((checkpoints[-1] if checkpoints else out) / "trainer_state.json").read_text())
    assert state["global_step"] == steps
    assert [e["step"] for e in state["log_history"] if "loss" in e and "learning_rate" in e] == list(range(1, steps + 1))
    return model, checkpoints


@needs_lf
def test_llamafactory_continuous_iterations(exported, tiny_llava, tmp_path):
    steps, dirs, _ = continuous_iterations("llamafactory", exported, tiny_llava, tmp_path)
    assert_continuous("llamafactory", steps, dirs)
    # LLaMA-Factory saves the final model in output_dir itself too, beside output_dir/checkpoint-N.
    for name in ("1", "2"):
        assert (dirs[name] / "model.safetensors").is_file() and (dirs[name] / "config.json").is_file()
    # Iterative RFT (save_strategy no): the model in output_dir only.
    model, checkpoints = assert_fresh("llamafactory", steps, dirs)
    assert model == dirs["rft"] and checkpoints == []


@needs_swift
def test_swift_continuous_iterations(exported, tiny_llava, tmp_path):
    steps, dirs, logs = continuous_iterations("swift", exported, tiny_llava, tmp_path)
    assert_continuous("swift", steps, dirs)
    # ms-swift keeps the model only in output_dir/checkpoint-N, with output_dir/last-checkpoint linking to it,
    # and names it in its log.
    for name, end in (("1", steps), ("2", 2 * steps)):
        assert not (dirs[name] / "model.safetensors").exists()
        assert os.readlink(dirs[name] / "last-checkpoint") == f"checkpoint-{end}"
    assert f"last_model_checkpoint: {dirs['2'] / f'checkpoint-{2 * steps}'}" in logs[2]
    # Iterative RFT (save_strategy epoch, save_only_model): one checkpoint at the epoch's end, weights only.
    model, checkpoints = assert_fresh("swift", steps, dirs)
    assert checkpoints == [dirs["rft"] / f"checkpoint-{steps}"] and model == checkpoints[0]
    assert not (model / "optimizer.pt").exists()
