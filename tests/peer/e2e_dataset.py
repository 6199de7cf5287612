"""The fixture task of scripts/e2e-remote: a small MathVista-layout dataset and the warm-up data for a tiny LLaVA.

    from e2e_dataset import write_dataset, write_warmup, chain
    items = write_dataset(WORK / "dataset")          # items.json + images/, what `data load --format mathvista` reads
    write_warmup(WORK / "warmup-data", items)        # train.jsonl + images/, what scripts/trainers/trl_sft.py reads

The task is one a 170k-parameter model can learn in a few seconds of CPU training and that still leaves
self-evolution something to do. Every question has two choices, and which one is right is given away by a word
in the question ("warmer" or "cooler", "larger" or "smaller"), not by the image: the tiny model barely sees its
16 patch tokens, but it reads text. The images are the dataset fixtures' small PNGs, so every request still
carries a real image through the whole path (data load's checks, the data: URL, the server's processor, the
selection's images/ folder, TRL's collator).

The warm-up teaches the response format only: each question appears twice, once answered A and once B, both in
the chain format ("Step 1: ... Step 2: ... The answer is X."), so the warmed model ends its samples with an
answer mstar's FreeTextAnswer reads, and picks A or B about half the time whatever the question says. Sampling
at temperature 1 then gets about half of them right: enough right samples for every step to select and train
on, and enough wrong ones for the loop's training (on its right samples only) to have something to improve.
"""

from __future__ import annotations

import json
import pathlib
import random
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures" / "datasets"
# Small PNGs of the dataset fixtures that pass `data load`'s image checks (not huge.png, truncated.png or the
# escape.png link, which are there to be refused); JPEGs are left out so every image is a PNG.
IMAGES = [
    "mathvista/images/1.png", "mathvista/images/2.png", "mathvista/images/4.png", "mathvista/images/5.png",
    "mathvista/images/6.png", "m3cot/images/a.png", "m3cot/images/b.png", "llava/images/0001.png",
    "llava/images/0002.png", "scienceqa/images/1/image.png", "scienceqa/images/4/image.png",
]
# (question, choices, index of the right choice): the question's word decides the answer.
TEMPLATES = [
    ("Which is warmer?", ["red", "blue"], 0),
    ("Which is cooler?", ["red", "blue"], 1),
    ("Which is larger?", ["big", "small"], 0),
    ("Which is smaller?", ["big", "small"], 1),
]
LETTERS = "AB"


def chain(letter: str) -> str:
    """A response in the study's chain format: steps, then the answer as FreeTextAnswer reads it ("The answer is
    B."). Short words on purpose: the tiny tokenizer makes this 21 tokens, so `max_tokens 32` holds it."""
    return f"Step 1: the image.\nStep 2: the question.\nThe answer is {letter}."


def prompt_text(item: dict) -> str:
    """The prompt mstar sends for a MathVista item (ReasoningItem.promptText): the question, then each choice on
    its own line as "(A) text". The warm-up trains on exactly these prompts."""
    return item["question"] + "".join(f"\n({LETTERS[i]}) {choice}" for i, choice in enumerate(item["choices"]))


def write_dataset(folder, count: int = 20) -> list[dict]:
    """Writes `count` items to FOLDER/items.json (MathVista's layout: an object keyed by pid) with their images in
    FOLDER/images/, and returns the records. The same items every time: template i % 4, image i % 11."""
    folder = pathlib.Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    items = {}
    for i in range(count):
        question, choices, right = TEMPLATES[i % len(TEMPLATES)]
        source = FIXTURES / IMAGES[i % len(IMAGES)]
        image = f"images/{i % len(IMAGES)}.png"
        shutil.copyfile(source, folder / image)
        pid = str(i + 1)
        items[pid] = {
            "pid": pid,
            "question": question,
            "image": image,
            "choices": choices,
            "unit": None,
            "precision": None,
            "answer": choices[right],  # MathVista gives the right choice's text; mstar keeps its letter
            "question_type": "multi_choice",
            "answer_type": "text",
            "metadata": {"source": "mstar e2e fixture", "split": "e2e"},
        }
    (folder / "items.json").write_text(json.dumps(items, indent=1) + "\n")
    return list(items.values())


def gold_letter(item: dict) -> str:
    return LETTERS[item["choices"].index(item["answer"])]


def write_warmup(folder, items: list[dict], dataset_folder, seed: int = 0) -> int:
    """Writes the warm-up's TRL-layout folder (train.jsonl + images/): every item twice, answered A and answered
    B, in a seeded order. Returns the number of examples."""
    folder, dataset_folder = pathlib.Path(folder), pathlib.Path(dataset_folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    examples = []
    for item in items:
        shutil.copyfile(dataset_folder / item["image"], folder / item["image"])
        for letter in LETTERS:
            examples.append({
                "messages": [
                    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt_text(item)}]},
                    {"role": "assistant", "content": [{"type": "text", "text": chain(letter)}]},
                ],
                "images": [item["image"]],
            })
    random.Random(seed).shuffle(examples)
    with open(folder / "train.jsonl", "w") as out:
        for example in examples:
            out.write(json.dumps(example) + "\n")
    return len(examples)
