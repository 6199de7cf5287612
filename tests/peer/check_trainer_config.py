#!/usr/bin/env python3
"""Validate a trainer config with the trainer's own parser and print what it parsed.

    .venv-trainers/llamafactory/bin/python tests/peer/check_trainer_config.py llamafactory FILE.yaml [FILE.yaml ...]
    .venv-trainers/swift/bin/python tests/peer/check_trainer_config.py swift sft FILE.yaml [FILE.yaml ...]
    .venv-trainers/swift/bin/python tests/peer/check_trainer_config.py swift sft --model M --dataset D ...

Prints one JSON line per config (several YAML files are each parsed on their own, the environment restored
in between): the tool, its version and the parsed values that matter for a hand-off (model,
template, data, output and checkpoint dirs, steps, schedule, resume). Exits 1 with {"error": ...} (the
parser's own message) when the parser rejects the config (an unknown key, a bad value, a failed check).

LLaMA-Factory 0.9.5: what `llamafactory-cli train FILE.yaml` runs first: `read_args()` (OmegaConf on the
YAML given as the first argument) and `get_train_args` (HfArgumentParser over its model, data, training,
finetuning and generating arguments; unknown keys are errors unless ALLOW_EXTRA_ARGS=1). It needs no model
files; on top of the parser this checks what `run_sft` would fail on next without loading weights: the
template is registered and the dataset is in `dataset_dir/dataset_info.json` with its file present.

ms-swift 4.6: what `swift sft ...` runs: `swift.cli.main.parse_yaml_args` (a first argument ending in .yaml
or .json becomes `--key value` arguments; its `ENV:` mapping is exported) and `SftArguments` through
`swift.utils.parse_args`, where leftover arguments are errors as in `SwiftPipeline._parse_args`. Its
__post_init__ reads the model directory's config (a local directory: a name would be downloaded), checks
that `resume_from_checkpoint` exists and creates `output_dir` (with a `vN-DATE-TIME` folder in it unless
`add_version` is false).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "WARN")


def plain(value):
    """JSON-friendly: enums by value, paths and dtypes as strings."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return getattr(value, "value", str(value))


TRAINING_KEYS = ["output_dir", "learning_rate", "num_train_epochs", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "max_steps", "lr_scheduler_type", "warmup_steps", "resume_from_checkpoint",
                 "ignore_data_skip", "save_strategy", "save_steps", "save_only_model", "save_total_limit",
                 "logging_steps", "report_to", "seed", "data_seed", "bf16", "fp16"]


def check_types(config: dict, parsed: tuple) -> None:
    """HfArgumentParser.parse_dict (the YAML path) sets fields without converting or checking types: a
    `max_steps: "8"` would only fail inside the trainer. Checked here for booleans and numbers."""
    import dataclasses
    import types
    import typing

    for key, value in config.items():
        obj = next((o for o in parsed if key in {f.name for f in dataclasses.fields(o)}), None)
        if obj is None:
            continue
        hint = typing.get_type_hints(type(obj)).get(key)
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        allowed = {a for a in (typing.get_args(hint) if union else (hint,)) if a is not type(None)}
        if value is None and union:
            continue
        if allowed == {bool} and not isinstance(value, bool):
            raise ValueError(f"{key}: {value!r} is not a boolean")
        if allowed and allowed <= {int, float}:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or (isinstance(value, float) and float not in allowed):
                raise ValueError(f"{key}: {value!r} is not of type {' or '.join(sorted(a.__name__ for a in allowed))}")


def llamafactory(path: str) -> dict:
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.template import TEMPLATES
    from llamafactory.extras.env import VERSION
    from llamafactory.hparams.parser import get_train_args, read_args

    sys.argv = ["llamafactory-cli", path]  # what `llamafactory-cli train FILE.yaml` hands to run_exp
    config = read_args()
    parsed = get_train_args(config)
    model_args, data_args, training_args, finetuning_args, _ = parsed
    check_types(config, parsed)
    if data_args.template not in TEMPLATES:
        raise ValueError(f"Template {data_args.template} does not exist.")
    datasets = []
    for attr in get_dataset_list(data_args.dataset, data_args.dataset_dir) if data_args.dataset else []:
        file = os.path.join(data_args.dataset_dir, attr.dataset_name)
        if attr.load_from == "file" and not os.path.exists(file):
            raise ValueError(f"File {file} not found.")
        datasets.append({"dataset_name": attr.dataset_name, "file": file, "load_from": attr.load_from,
                         "formatting": attr.formatting})
    return {
        "tool": "llamafactory", "version": VERSION, "file": path, "config": plain(config),
        "model_name_or_path": model_args.model_name_or_path,
        "model_exists": os.path.isdir(model_args.model_name_or_path),
        "template": data_args.template, "dataset": data_args.dataset, "dataset_dir": data_args.dataset_dir,
        "media_dir": data_args.media_dir, "datasets": datasets, "cutoff_len": data_args.cutoff_len,
        "stage": finetuning_args.stage, "finetuning_type": finetuning_args.finetuning_type,
        "freeze_vision_tower": finetuning_args.freeze_vision_tower,
        "freeze_multi_modal_projector": finetuning_args.freeze_multi_modal_projector,
        "do_train": training_args.do_train, "overwrite_output_dir": training_args.overwrite_output_dir,
        "resume_exists": (os.path.isdir(training_args.resume_from_checkpoint)
                          if training_args.resume_from_checkpoint else None),
        **{k: plain(getattr(training_args, k, None)) for k in TRAINING_KEYS},
    }


def swift(argv: list[str]) -> dict:
    from swift.arguments import SftArguments
    from swift.cli.main import parse_yaml_args
    from swift.utils import parse_args
    from swift.version import __version__

    parse_yaml_args(argv)  # as `swift sft FILE.yaml` does: the file's keys become arguments, ENV is exported
    try:
        model = argv[argv.index("--model") + 1]
    except (ValueError, IndexError):
        model = None
    if model is not None and not os.path.isdir(model):
        raise ValueError(f"--model {model} is not a local directory (ms-swift's parser would download it)")
    args, remaining = parse_args(SftArguments, argv)
    if remaining:
        raise ValueError(f"remaining_argv: {remaining}")  # SwiftPipeline._parse_args's error
    training = args.training_args  # what the trainer gets (Seq2SeqTrainingArguments)
    return {
        "tool": "swift", "version": __version__, "argv": argv,
        "model": args.model, "model_type": args.model_type, "template": args.template, "tuner_type": args.tuner_type,
        "dataset": args.dataset, "split_dataset_ratio": args.split_dataset_ratio, "add_version": args.add_version,
        "freeze_vit": args.freeze_vit, "freeze_aligner": args.freeze_aligner, "freeze_llm": args.freeze_llm,
        "resume_only_model": args.resume_only_model, "check_model": args.check_model,
        "root_image_dir": os.environ.get("ROOT_IMAGE_DIR"), "max_length": args.max_length,
        **{k: plain(getattr(training, k, None)) for k in TRAINING_KEYS},
    }


def describe(e: BaseException, printed: str) -> str:
    """The parser's message: argparse prints it (then exits) instead of raising it."""
    if isinstance(e, SystemExit):
        lines = [line for line in printed.splitlines() if "error:" in line]
        if lines:
            return lines[-1].strip()
    return f"{type(e).__name__}: {e}"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("llamafactory", "swift"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tool = argv[0]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stdout(sys.stderr), contextlib.redirect_stderr(errors):  # stdout: the JSON line only
            if tool == "llamafactory":
                results = []
                for path in argv[1:]:
                    mark = errors.tell()
                    try:
                        results.append(llamafactory(path))
                    except Exception as e:
                        printed = errors.getvalue()[mark:]
                        traceback.print_exc(file=errors)
                        results.append({"tool": tool, "file": path, "error": describe(e, printed)})
            else:
                if argv[1] != "sft" or len(argv) < 3:
                    raise ValueError("usage: check_trainer_config.py swift sft (FILE.yaml ... | --key value ...)")
                files = argv[2:] if all(a.endswith((".yaml", ".yml", ".json")) for a in argv[2:]) else None
                results = []
                for args in ([[f] for f in files] if files else [argv[2:]]):
                    saved, mark = dict(os.environ), errors.tell()
                    try:
                        results.append(swift(list(args)))
                    except (Exception, SystemExit) as e:
                        if files is None:
                            raise
                        printed = errors.getvalue()[mark:]
                        traceback.print_exc(file=errors)
                        results.append({"tool": tool, "file": args[0], "error": describe(e, printed)})
                    finally:
                        os.environ.clear()
                        os.environ.update(saved)
    except BaseException as e:  # HfArgumentParser exits (SystemExit) on a bad value, argparse's message on stderr
        if isinstance(e, KeyboardInterrupt):
            raise
        sys.stderr.write(errors.getvalue())
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"tool": tool, "error": describe(e, errors.getvalue())}))
        return 1
    sys.stderr.write(errors.getvalue())
    for result in results:
        print(json.dumps(result))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
