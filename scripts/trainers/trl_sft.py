#!/usr/bin/env python3
"""Fine-tune a transformers vision-language model on one iteration's selected responses with TRL's SFTTrainer.

    python3 scripts/trainers/trl_sft.py --model DIR --data DIR --output DIR \
        [--learning-rate 1e-5] [--epochs 1] [--batch-size 1] [--max-steps TOTAL] [--resume CHECKPOINT] \
        [--seed 0] [--lr-scheduler linear] [--warmup-steps 0]

--data is the folder `mstar selection export --format trl` writes: train.jsonl, one example a line,
    {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": Q}]},
                  {"role": "assistant", "content": [{"type": "text", "text": R}]}],
     "images": ["images/ID.png"]}
with the image paths relative to the folder.

Continuous self-evolving training calls this once per iteration, each time on new data, with `--resume` of the
previous call's checkpoint and the same `--max-steps`: the HF Trainer restores optimizer, scheduler, RNG and
global step from the checkpoint but rebuilds the LR schedule from the max_steps of the call, so only a
horizon fixed for the whole run keeps the schedule continuous (without it the LR jumps back up). A call ends
after --epochs passes over its data, or at --max-steps if that comes first. With --resume the weights come from
the checkpoint (a complete model directory too) and --model gives the processor. The loss is on the response
(the last assistant message) only, which is trained as the text that follows the chat template's generation
prompt, as the server sampled it (as_sampled). Tested with TRL 1.16.0, transformers 5.25.0, torch 2.13.0 (CPU).

stdout carries only JSON lines, for the caller to parse:
    {"event": "log", "step": N, "loss": x, "learning_rate": y, "epoch": e}     one per optimizer step
    {"event": "done", "checkpoint": PATH, "model": PATH, "global_step": N, "steps": K, "learning_rates": [...]}
(K: the steps this call made; learning_rates: one per step, as logged).
`checkpoint` (OUTPUT/checkpoint-N: weights, optimizer.pt, scheduler.pt, rng_state.pth, trainer_state.json) is
what the next call's --resume takes; `model` (OUTPUT/model) is a complete model directory (weights, config,
processor, chat template) for `transformers serve` or `from_pretrained`. On an error: one line on stderr
and exit status 1 (2 for bad arguments). Library logs and warnings go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="trl_sft.py",
        description="Fine-tune a vision-language model directory on a TRL-layout folder (train.jsonl + images/).",
    )
    parser.add_argument("--model", required=True, help="model directory to start from (weights, config, processor)")
    parser.add_argument("--data", required=True, help="folder with train.jsonl and the images it names")
    parser.add_argument("--output", required=True, help="where the checkpoint and the final model go")
    parser.add_argument("--learning-rate", type=float, default=1e-5, help="peak learning rate (default 1e-5)")
    parser.add_argument("--epochs", type=int, default=1, help="passes over this call's data (default 1)")
    parser.add_argument("--batch-size", type=int, default=1, help="examples per optimizer step and device (default 1)")
    parser.add_argument(
        "--max-steps", type=int,
        help="optimizer steps of the WHOLE run (all iterations), the LR schedule's horizon; fix it at iteration 1 "
             "and pass the same value every time. Without it the horizon is where this call ends.",
    )
    parser.add_argument(
        "--resume", metavar="CHECKPOINT_DIR",
        help="a previous call's checkpoint: continue its weights, optimizer, scheduler, RNG and global step",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for initialisation and data order (default 0)")
    parser.add_argument("--lr-scheduler", default="linear",
                        help="a transformers scheduler name: linear, cosine, constant, ... (default linear)")
    parser.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up steps from 0 (default 0)")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_steps is not None and args.max_steps < 1:
        parser.error("--max-steps must be at least 1")
    if args.warmup_steps < 0:
        parser.error("--warmup-steps must be at least 0")
    return args


def read_examples(data_dir: str) -> list[dict]:
    """train.jsonl, checked, as rows of prompt (messages) / completion (the last assistant message) / images.

    The last assistant message becomes the completion and everything before it the prompt: for that layout TRL
    puts the loss on the completion only, so the model learns the selected response, not the question or the
    image tokens. Images stay paths (absolute here), opened as PIL only when a batch needs them (as_sampled), so
    a large folder is not held in memory.
    """
    path = os.path.join(data_dir, "train.jsonl")
    rows = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                example = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not JSON ({error})") from None
            messages = example.get("messages")
            if not isinstance(messages, list) or len(messages) < 2 or messages[-1].get("role") != "assistant":
                raise ValueError(f"{where}: 'messages' must be a list ending with an assistant message")
            images = [os.path.join(os.path.abspath(data_dir), image) for image in example.get("images", [])]
            placeholders = sum(
                1 for message in messages if isinstance(message.get("content"), list)
                for part in message["content"] if part.get("type") == "image"
            )
            if placeholders != len(images):
                raise ValueError(f"{where}: {placeholders} image parts but {len(images)} images")
            for image in images:
                if not os.path.isfile(image):
                    raise ValueError(f"{where}: no image file {image}")
            rows.append({"prompt": messages[:-1], "completion": messages[-1:], "images": images})
    if not rows:
        raise ValueError(f"{path}: no examples")
    return rows


def as_sampled(rows: list[dict], processor):
    """The rows as a datasets.Dataset of the text the served model saw and wrote: the prompt rendered with the
    chat template's generation prompt (what the server sent the model), the completion the response as sampled
    followed by the template's end of the assistant turn.

    Rendering the whole conversation instead (TRL's conversational prompt / completion) puts the template's own
    separator between prompt and response where the generation prompt has none: LLaVA-1.5's template ends the
    generation prompt with "ASSISTANT:" but writes an assistant turn as "ASSISTANT: " + text. The sampled
    response already starts with the space the model generated, so the model would learn one space more than it
    sampled, its next responses would start with it, and the format decays iteration by iteration
    (scripts/e2e-remote checks that the selections keep their form). Images become an Image feature.
    """
    from datasets import Dataset, Image, List

    sentinel = "\x00mstar-response\x00"
    out = []
    for row in rows:
        prompt = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        content = row["completion"][0]["content"]
        text = content if isinstance(content, str) else "".join(
            part.get("text", "") for part in content if part.get("type") == "text")
        # The end of the assistant turn as the template writes it (an end-of-sequence token, "<|im_end|>\n", ...):
        # what follows the response when the template renders it, so the model still learns to stop.
        turn = processor.apply_chat_template(
            row["prompt"] + [{"role": "assistant", "content": [{"type": "text", "text": sentinel}]}], tokenize=False)
        if turn.count(sentinel) != 1:
            raise ValueError("the chat template does not render an assistant turn's text as it is")
        out.append({"prompt": prompt, "completion": text + turn.split(sentinel)[1], "images": row["images"]})
    return Dataset.from_list(out).cast_column("images", List(Image()))


def global_step_of(checkpoint: str) -> int:
    """The global step a checkpoint was saved at (its trainer_state.json)."""
    state_path = os.path.join(checkpoint, "trainer_state.json")
    try:
        with open(state_path, encoding="utf-8") as state:
            return int(json.load(state)["global_step"])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"--resume {checkpoint}: not a Trainer checkpoint ({state_path}: {error})") from None


def train(args: argparse.Namespace, emit) -> dict:
    start_step = global_step_of(args.resume) if args.resume else 0
    if args.max_steps is not None and start_step >= args.max_steps:
        raise ValueError(f"--max-steps {args.max_steps} is spent: the checkpoint is at step {start_step}")
    dataset = read_examples(args.data)  # the input is checked before the slow imports below

    import torch
    from accelerate import PartialState
    from transformers import AutoProcessor, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    # One optimizer step is one batch on each process (no gradient accumulation); the last batch may be short.
    steps_per_pass = math.ceil(len(dataset) / (args.batch_size * PartialState().num_processes))
    stop_at = start_step + args.epochs * steps_per_pass
    if args.max_steps is None:
        horizon = stop_at  # this call is the whole schedule: continuous only if every call passes --max-steps
    else:
        horizon = args.max_steps
        if stop_at > horizon:
            print(f"warning: --max-steps {horizon} leaves {horizon - start_step} of this call's "
                  f"{stop_at - start_step} steps", file=sys.stderr)
            stop_at = horizon

    class StopAndSave(TrainerCallback):
        """Ends this call after its passes over the data and saves a full checkpoint there.

        max_steps is the schedule's horizon, not where this call ends, so the Trainer alone would run on (cycling
        the data) until the whole run's last step; the checkpoint it saves here is what --resume continues.
        """

        def on_step_end(self, _args, state, control, **_):
            if state.global_step >= stop_at:
                control.should_save = True
                control.should_training_stop = True

    learning_rates = []

    class JsonLog(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_):
            if logs and "loss" in logs:  # the per-step logs; the end-of-train summary has train_loss instead
                learning_rates.append(logs["learning_rate"])
                emit({"event": "log", "step": state.global_step, "loss": logs["loss"],
                      "learning_rate": logs["learning_rate"], "epoch": logs.get("epoch", state.epoch)})

    config = SFTConfig(
        output_dir=args.output,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        max_steps=horizon,
        lr_scheduler_type=args.lr_scheduler,
        warmup_steps=args.warmup_steps,
        seed=args.seed,
        # The new iteration's data has not been seen: without this the Trainer skips as many batches of it as
        # the checkpoint had consumed of the old data.
        ignore_data_skip=True,
        max_length=None,  # truncation would cut image tokens and break the image features / tokens match
        completion_only_loss=True,  # loss on the response only (the prompt / completion split above)
        # bf16 where the GPU has it (TRL's default would also turn on CPU autocast, slower and less exact here).
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        logging_steps=1,
        # StopAndSave saves the one checkpoint, at this call's end; the Trainer's own saving stays off.
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
    )

    class CheckpointWeightsTrainer(SFTTrainer):
        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            """Nothing to do: the model was made from the checkpoint with from_pretrained (model= below).

            The Trainer's own load (load_state_dict of the file, without from_pretrained's key renaming) matches
            none of the keys a LLaVA or Qwen-VL saves and silently keeps the weights it has (transformers#43701,
            still so in 5.25). Optimizer, scheduler, RNG and global step are restored as usual.
            """

    # A checkpoint is a complete model directory too: resuming continues its weights, --model gives the processor.
    processor = AutoProcessor.from_pretrained(args.model)
    dataset = as_sampled(dataset, processor)
    trainer = CheckpointWeightsTrainer(
        model=args.resume or args.model, args=config, train_dataset=dataset, processing_class=processor,
        callbacks=[StopAndSave(), JsonLog()],
    )
    trainer.train(resume_from_checkpoint=args.resume)

    step = trainer.state.global_step
    checkpoint = os.path.abspath(os.path.join(args.output, f"checkpoint-{step}"))
    model_dir = os.path.abspath(os.path.join(args.output, "model"))
    # The Trainer turns the KV cache off for training (TrainingArguments.use_cache); the served model wants it.
    trainer.model.config.use_cache = True
    trainer.save_model(model_dir)  # weights, config, generation config and processor (with its chat template)
    return {"event": "done", "checkpoint": checkpoint, "model": model_dir, "global_step": step,
            "steps": step - start_step, "learning_rates": learning_rates}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    stdout = sys.stdout

    def emit(event: dict) -> None:
        stdout.write(json.dumps(event) + "\n")
        stdout.flush()

    # Libraries print to stdout too (the Trainer's log printer, progress text): all of it goes to stderr, so
    # stdout holds only the JSON lines above.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            emit(train(args, emit))
        except Exception as error:  # one line for the caller; the traceback is not its business
            print(f"error: {type(error).__name__}: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
