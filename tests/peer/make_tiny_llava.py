#!/usr/bin/env python3
"""Build a tiny, random-weight LLaVA model directory for local serving tests.

    python3 tests/peer/make_tiny_llava.py OUT_DIR

Everything is made here from configs, with no download: a CLIP vision tower and a Llama text model
(about 170k parameters, seeded, so the same bytes each run), a byte-level BPE tokenizer trained in-process
on a small built-in math/QA corpus, a chat template, a PIL-backed CLIP image processor (torchvision does not
import beside the CPU torch here, so nothing may need it) and a LlavaProcessor. The directory loads with
`AutoProcessor.from_pretrained` / `LlavaForConditionalGeneration.from_pretrained` and is what
`transformers serve OUT_DIR` serves.
"""

from __future__ import annotations

import json
import os
import sys

IMAGE_SIZE = 32
PATCH_SIZE = 8
# CLIP adds a CLS token; the "default" feature strategy drops it: one image is (32/8)^2 = 16 tokens.
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2
VOCAB_SIZE = 512
SEED = 1234
# Wider than the usual 0.02, so that the answer depends on the prompt and the image: at 0.02 the next-token
# distribution is almost uniform (entropy ~6.2 of ln 512 = 6.24 nats) and a seeded sample barely changes with
# the input; at 0.3 it is ~4 nats, varied across samples yet different for a different image or question.
INIT_RANGE = 0.3

BOS, EOS, PAD, UNK, IMAGE = "<s>", "</s>", "<pad>", "<unk>", "<image>"
SPECIAL_TOKENS = [BOS, EOS, PAD, UNK, IMAGE]  # ids 0..4, in this order

# USER / ASSISTANT turns, LLaVA-1.5 style. An {"type": "image"} part becomes one <image>, which the
# processor expands to IMAGE_TOKENS of them; a string content is taken as text.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}SYSTEM: "
    "{% elif message['role'] == 'user' %}USER: "
    "{% elif message['role'] == 'assistant' %}ASSISTANT: "
    "{% else %}{{ message['role'] | upper }}: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{{ '\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def corpus() -> list[str]:
    """Small math/QA text the BPE merges are learned from."""
    lines = [
        "USER: what is 2 + 3 ?",
        "ASSISTANT: 2 + 3 = 5. the answer is 5",
        "the answer is 12",
        "The answer is \\boxed{3}.",
        "so the final answer is \\boxed{42}",
        "Answer: (A)",
        "(A) (B) (C) (D) (E)",
        "Choose the correct option. The answer is (B).",
        "Question: how many objects are in the image?",
        "Let's think step by step.",
        "Step 1: count the red cubes. Step 2: subtract the spheres.",
        "There are 4 cubes and 3 spheres, so 4 - 3 = 1.",
        "what is the area of the triangle ? base 6 height 4 area = 12",
        "the value of x is 7 because 2x + 1 = 15",
        "Hint: please answer the question and provide the final answer at the end.",
        "SYSTEM: You are a helpful assistant.",
        "yes no true false",
        "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 100 1000",
        "+ - * / = < > ( ) [ ] { } . , : ; ? !",
    ]
    for a in range(10):
        for b in range(10):
            lines.append(f"{a} + {b} = {a + b}. the answer is {a + b}")
            lines.append(f"{a} * {b} = {a * b}, so the answer is \\boxed{{{a * b}}}")
    return lines * 3


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    # No post-processor: the chat template writes <s> itself, so nothing is added twice.
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        extra_special_tokens={"image_token": IMAGE},
        padding_side="left",
        model_max_length=512,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(out_dir: str) -> dict:
    import torch
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    os.makedirs(out_dir, exist_ok=True)
    tokenizer = build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert [ids[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS))), ids
    vocab_size = len(tokenizer)

    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        projection_dim=32,
        initializer_range=INIT_RANGE,
    )
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
        tie_word_embeddings=False,
        initializer_range=INIT_RANGE,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=ids[IMAGE],
        image_seq_length=IMAGE_TOKENS,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )
    config.bos_token_id, config.eos_token_id, config.pad_token_id = ids[BOS], ids[EOS], ids[PAD]

    torch.manual_seed(SEED)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,  # no top-k cut: the whole distribution, like vLLM's top_k=-1
        max_new_tokens=32,
    )
    model.save_pretrained(out_dir)

    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_resize=True,
        do_center_crop=True,
        do_convert_rgb=True,
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE,
    )
    processor.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)  # tokenizer_config.json carries the chat template too

    n_params = sum(p.numel() for p in model.parameters())
    return {"out_dir": out_dir, "parameters": n_params, "vocab_size": vocab_size, "image_tokens": IMAGE_TOKENS}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    info = build(argv[1])
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
