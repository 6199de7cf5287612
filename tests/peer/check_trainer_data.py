#!/usr/bin/env python3
"""Read a selection folder with a trainer's own dataset pipeline and print what it made of it.

    .venv-trainers/llamafactory/bin/python tests/peer/check_trainer_data.py llamafactory DIR \
        [--dataset mstar_selection] [--model MODEL_DIR --template llava]
    .venv-trainers/swift/bin/python tests/peer/check_trainer_data.py swift DIR/train.jsonl \
        [--model MODEL_DIR --model-type llava1_5_hf [--template T]]

Prints one JSON line: the tool and its version, and for every example the roles, the number of <image> tags,
the images as the trainer resolved them (and whether each opens), and with a model also the number of image
tokens the template expanded them to and the text the loss is on (the labels). Exits 1 with {"error": ...}
when the trainer's pipeline rejects the data.

LLaMA-Factory 0.9.5: `get_train_args` (the CLI's parser), then what `run_sft` does before loading weights:
`get_dataset_list` + `_load_single_dataset` (its sharegpt converter `align_dataset`, which resolves image paths
against `media_dir`, by default `dataset_dir`), `load_tokenizer`, `get_template_and_fix_tokenizer`,
`get_dataset` (tokenizes; the multimodal plugin checks one <image> tag per image) and its training collator
`SFTDataCollatorWith4DAttentionMask` (opens the images and runs the image processor).

ms-swift 4.6: `swift.load_dataset` (its AutoPreprocessor/MessagesPreprocessor), `get_processor`, `get_template`
in train mode, `Template.encode` per example (opens the images: a relative path resolves against the current
directory or $ROOT_IMAGE_DIR) and `Template.data_collator`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import traceback

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "WARN")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

IGNORE_INDEX = -100


def image_opens(path: str) -> list[int] | None:
    """The image's size, or None when the path does not open as an image."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            return list(im.size)
    except Exception:
        return None


def label_text(tokenizer, labels) -> str:
    return tokenizer.decode([t for t in labels if t != IGNORE_INDEX], skip_special_tokens=False)


def image_token_id(processor, tokenizer):
    token = getattr(processor, "image_token", None) or getattr(tokenizer, "image_token", None) or "<image>"
    tid = getattr(processor, "image_token_id", None)
    return tid if tid is not None else tokenizer.convert_tokens_to_ids(token)


def llamafactory(args) -> dict:
    import llamafactory
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.data.collator import SFTDataCollatorWith4DAttentionMask
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    folder = os.path.abspath(args.path)
    with tempfile.TemporaryDirectory() as out:
        config = {"stage": "sft", "do_train": True, "finetuning_type": "full", "dataset": args.dataset,
                  "dataset_dir": folder, "output_dir": out, "overwrite_output_dir": True, "report_to": "none",
                  "model_name_or_path": args.model or "unused", "template": args.template or "empty"}
        model_args, data_args, training_args, _, _ = get_train_args(config)
        [attr] = get_dataset_list([args.dataset], folder)
        aligned = _load_single_dataset(attr, model_args, data_args, training_args)
        examples = []
        for row in aligned:
            messages = row["_prompt"] + row["_response"]
            images = row["_images"] or []
            examples.append({
                "roles": [m["role"] for m in messages],
                "image_tags": sum(m["content"].count("<image>") for m in messages),
                "images": images,
                "images_open": [image_opens(p) for p in images],
                "response": row["_response"][0]["content"] if row["_response"] else None,
            })
        result = {"tool": "llamafactory", "version": llamafactory.__version__, "formatting": attr.formatting,
                  "load_from": attr.load_from, "media_dir": data_args.media_dir, "examples": examples}
        if not args.model:
            return result

        tokenizer_module = load_tokenizer(model_args)
        tokenizer, processor = tokenizer_module["tokenizer"], tokenizer_module["processor"]
        template = get_template_and_fix_tokenizer(tokenizer, data_args)
        dataset = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)["train_dataset"]
        if len(dataset) != len(examples):
            raise ValueError(f"LLaMA-Factory kept {len(dataset)} of {len(examples)} examples (it drops malformed ones)")
        image_id = image_token_id(processor, tokenizer)
        for example, row in zip(examples, dataset):
            example["image_tokens"] = row["input_ids"].count(image_id)
            example["label_text"] = label_text(tokenizer, row["labels"])
        collator = SFTDataCollatorWith4DAttentionMask(template=template, model=None, pad_to_multiple_of=8,
                                                      label_pad_token_id=IGNORE_INDEX, **tokenizer_module)
        batch = collator([dict(row) for row in dataset])
        result.update({"template": data_args.template, "eos_token": tokenizer.eos_token,
                       "batch": {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape")}})
        return result


def swift(args) -> dict:
    from swift import get_processor, get_template, load_dataset
    from swift.template.vision_utils import load_image
    from swift.version import __version__

    train, _ = load_dataset([os.path.abspath(args.path)], num_proc=1, strict=True)
    examples = []
    for row in train:
        images = [im["path"] if isinstance(im, dict) else im for im in (row.get("images") or [])]
        opened = []
        for p in images:
            try:
                opened.append(list(load_image(p).size))
            except Exception:
                opened.append(None)
        messages = row["messages"]
        examples.append({
            "roles": [m["role"] for m in messages],
            "image_tags": sum(m["content"].count("<image>") for m in messages),
            "images": images,
            "images_open": opened,
            "response": messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else None,
        })
    result = {"tool": "swift", "version": __version__, "cwd": os.getcwd(),
              "root_image_dir": os.environ.get("ROOT_IMAGE_DIR"), "examples": examples}
    if not args.model:
        return result

    processor = get_processor(args.model, model_type=args.model_type)
    template = get_template(processor, template_type=args.template or args.model_type)
    template.set_mode("train")
    tokenizer = getattr(processor, "tokenizer", processor)
    image_id = image_token_id(processor, tokenizer)
    encoded = []
    for example, row in zip(examples, train):
        try:
            enc = template.encode(dict(row))
        except Exception as e:  # what the trainer would raise (strict) or skip and replace (default)
            example["encode_error"] = f"{type(e).__name__}: {e}"
            continue
        encoded.append(enc)
        example["image_tokens"] = list(enc["input_ids"]).count(image_id)
        example["label_text"] = label_text(tokenizer, enc["labels"])
    result.update({"template": template.template_meta.template_type, "eos_token": tokenizer.eos_token})
    if encoded:
        batch = template.data_collator(encoded)
        result["batch"] = {k: list(v.shape) for k, v in batch.items() if hasattr(v, "shape")}
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=["llamafactory", "swift"])
    parser.add_argument("path", help="LLaMA-Factory: the folder with dataset_info.json; ms-swift: the JSONL file")
    parser.add_argument("--dataset", default="mstar_selection", help="LLaMA-Factory: the dataset_info.json entry")
    parser.add_argument("--model", help="a local model directory: also tokenize and collate with its template")
    parser.add_argument("--template", help="LLaMA-Factory: the template name; ms-swift: the template type")
    parser.add_argument("--model-type", help="ms-swift: the model type (e.g. llava1_5_hf)")
    args = parser.parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the trainers print examples: stdout is the JSON line only
            result = llamafactory(args) if args.tool == "llamafactory" else swift(args)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"tool": args.tool, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
