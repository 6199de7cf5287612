"""`selection export`: the last step's selected responses in the layouts of TRL, LLaMA-Factory,
ms-swift and LLaVA, read back with Hugging Face `datasets` (what TRL and LLaMA-Factory load them
with) and checked against each layout's documented schema."""
import json
import re
import subprocess

import pytest
from datasets import Image, Sequence, load_dataset

from conftest import ROOT

SCRIPT = """load {policy}
set prompts 32
set k 8
set max_tokens 24
set dynamics_prompts 4
set dynamics_k 2
step
{samples}
selection export --format trl --out trl
selection export --format llamafactory --out llamafactory
selection export --format swift --out swift
selection export --format llava --out llava
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from conftest import mstar_binary
    folder = tmp_path_factory.mktemp("export")
    # `sample --prompt i` shows each of the step's 8 prompts with what the selection kept.
    samples = "\n".join(f"sample --prompt {i} --show 8" for i in range(8))
    (folder / "export.mstar").write_text(SCRIPT.format(policy=ROOT / "checkpoints" / "pre-evolved", samples=samples))
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin", "MSTAR_DIGITS": str(ROOT / "data" / "digits.csv.gz")}
    p = subprocess.run([mstar_binary(), "run", "export.mstar", "--out", "run", "--quiet"], cwd=str(folder), env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    journal = (folder / "run" / "session.mstar").read_text()
    selected = int(re.search(r"(\d+) selected", journal).group(1))
    assert selected > 0
    return folder / "run", selected, journal


def kept_responses(journal):
    """The responses the step kept, in prompt and sample order, as `sample --prompt i` printed them."""
    lines = journal.splitlines()
    return [lines[i + 1][len("#>     "):] for i, l in enumerate(lines) if re.match(r"#> \[\d+\] kept ", l)]


def test_trl_messages_with_typed_parts(exported):
    run, selected, journal = exported
    ds = load_dataset("json", data_files=str(run / "trl" / "train.jsonl"), split="train")
    assert len(ds) == selected
    assert set(ds.column_names) == {"messages", "images"}
    for row in ds:
        user, assistant = row["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert [part["type"] for part in user["content"]] == ["image", "text"]
        assert assistant["content"][0]["type"] == "text" and assistant["content"][0]["text"].endswith(tuple("0123456789"))
        assert len(row["images"]) == 1
    # The image paths load as images (TRL's collator wants PIL images).
    images = ds.map(lambda r: {"images": [str(run / "trl" / p) for p in r["images"]]}).cast_column("images", Sequence(Image()))
    assert images[0]["images"][0].size == (48, 32)


def test_llamafactory_sharegpt_with_its_dataset_info(exported):
    run, selected, _ = exported
    info = json.loads((run / "llamafactory" / "dataset_info.json").read_text())
    entry = info["mstar_selection"]
    assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "images": "images"}
    assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    ds = load_dataset("json", data_files=str(run / "llamafactory" / entry["file_name"]), split="train")
    assert len(ds) == selected
    for row in ds:
        # LLaMA-Factory's rule: as many <image> tags in the messages as images.
        tags = sum(m["content"].count("<image>") for m in row["messages"])
        assert tags == len(row["images"]) == 1
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert (run / "llamafactory" / row["images"][0]).is_file()


def test_swift_jsonl_and_llava_conversations_hold_the_selected_responses(exported):
    run, selected, journal = exported
    swift = load_dataset("json", data_files=str(run / "swift" / "train.jsonl"), split="train")
    llava = json.loads((run / "llava" / "train.json").read_text())
    assert len(swift) == len(llava) == selected
    for row, item in zip(swift, llava):
        assert row["messages"][0]["content"].startswith("<image>")
        assert item["conversations"][0]["from"] == "human" and item["conversations"][0]["value"].startswith("<image>\n")
        assert item["conversations"][1]["value"] == row["messages"][1]["content"]
        assert item["image"] == row["images"][0] and (run / "llava" / item["image"]).is_file()
    # The responses are the ones the step kept, in order.
    assert [r["messages"][1]["content"] for r in swift] == kept_responses(journal)


def test_export_before_a_step_says_what_to_do(mstar, tmp_path):
    (tmp_path / "e.mstar").write_text("selection export --format trl --out x\n")
    p = subprocess.run([mstar, "run", "e.mstar", "--out", "run", "--quiet"], cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "run step first" in p.stderr
