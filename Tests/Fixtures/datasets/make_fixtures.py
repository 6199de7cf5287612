#!/usr/bin/env python3
"""Writes the dataset fixtures of `data load` (one folder per layout) with tiny images.

Run from anywhere: `python3 Tests/Fixtures/datasets/make_fixtures.py`. The output is committed; the
script is kept so the fixtures can be remade or changed. Nothing is downloaded: the records are
made up in each layout's shape, and the images are written here (PNG with zlib, a baseline JPEG by
hand). Each folder also holds deliberately bad records that the tests expect to be skipped with
FILE:LINE (or FILE[INDEX], FILE["KEY"]) messages.
"""
import json
import os
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).resolve().parent


def png(width, height, pixel, color=True, ihdr_size=None):
    """An 8-bit RGB (or grey) PNG; ihdr_size overrides the size the header claims."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            v = pixel(x, y)
            row += bytes(v) if color else bytes([v[0]])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    w, h = ihdr_size or (width, height)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if color else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# Baseline JPEG (ITU T.81, Annex K tables) of a flat grey image: every 8x8 block's DCT is zero
# after the level shift, so each block is the DC difference 0 (code 00) then end-of-block (1010).
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
AC_VALS = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32,
    0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16,
    0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45,
    0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
    0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
    0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
]


def jpeg(width, height):
    """A valid baseline greyscale JPEG of width x height (multiples of 8), flat mid grey."""
    assert width % 8 == 0 and height % 8 == 0

    def segment(marker, body):
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    out = b"\xff\xd8"
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xDB, b"\x00" + bytes([1] * 64))  # table 0, 8-bit, all ones
    out += segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")  # one component, 1x1, table 0
    out += segment(0xC4, b"\x00" + bytes(DC_BITS) + bytes(DC_VALS))
    out += segment(0xC4, b"\x10" + bytes(AC_BITS) + bytes(AC_VALS))
    out += segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")  # one component, tables 0/0, spectral 0..63
    bits = "001010" * ((width // 8) * (height // 8))
    bits += "1" * (-len(bits) % 8)  # pad with ones
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i:i + 8], 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0)  # byte stuffing
    return out + bytes(data) + b"\xff\xd9"


def gradient(x, y):
    return (x * 16 % 256, y * 16 % 256, 128)


def checker(x, y):
    return (255, 255, 255) if (x // 4 + y // 4) % 2 else (20, 40, 200)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_jsonl(path, records):
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def link(path, target):
    if path.is_symlink() or path.exists():
        path.unlink()
    os.symlink(target, path)


def mathvista():
    d = HERE / "mathvista"
    write(d / "images/1.png", png(16, 12, gradient))
    write(d / "images/2.png", png(32, 24, checker))
    write(d / "images/3.jpg", jpeg(16, 16))
    write(d / "images/4.png", png(8, 8, gradient, color=False))
    write(d / "images/5.png", png(24, 16, checker))
    write(d / "images/6.png", png(64, 48, gradient))
    write(d / "images/huge.png", png(8, 8, gradient, ihdr_size=(5000, 5000)))
    meta = {"category": "math-targeted-vqa", "context": "geometry diagram", "grade": "high school",
            "language": "english", "source": "made-up fixture", "split": "testmini", "task": "geometry problem solving"}

    def rec(pid, question, image, answer, answer_type, question_type="free_form", choices=None, precision=None, unit=None):
        hint = {"integer": "an integer answer", "float": f"a floating-point number with {int(precision or 1)} decimal place",
                "text": "a text answer", "list": "a Python list as an answer"}[answer_type]
        return {"pid": pid, "question": question, "image": image, "choices": choices, "unit": unit, "precision": precision,
                "answer": answer, "question_type": question_type, "answer_type": answer_type, "metadata": meta,
                "query": f"Hint: Please answer the question requiring {hint} and provide the final value, e.g., 1, 2.5, at the end.\n"
                         f"Question: {question}"}

    records = {
        "1": rec("1", "How many bars are taller than 3?", "images/1.png", "4", "integer"),
        "2": rec("2", "What is the length of side AB? (Unit: cm)", "images/2.png", "7.5", "float", precision=1.0, unit="cm"),
        "3": rec("3", "Which shape is shaded?", "images/3.jpg", "triangle", "text", "multi_choice",
                 ["circle", "square", "triangle", "pentagon"]),
        "4": rec("4", "List the three smallest values shown, in order.", "images/4.png", "[1, 2, 3]", "list"),
        "5": rec("5", "What is the angle x in degrees?", "images/5.png", "45", "integer", "multi_choice", ["30", "45", "60", "90"]),
        "6": rec("6", "What colour is the largest square?", "images/6.png", "blue", "text"),
        "7": {k: v for k, v in rec("7", "How many circles are there?", "images/1.png", "3", "integer").items() if k != "answer"},
        "8": rec("8", "What is the area?", "../outside.png", "12", "integer"),
        "9": rec("9", "How many dots?", "images/huge.png", "9", "integer"),
        "10": rec("10", "Which is largest?", "images/2.png", "hexagon", "text", "multi_choice", ["circle", "square"]),
    }
    (d / "testmini.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


def m3cot():
    d = HERE / "m3cot"
    write(d / "images/a.png", png(16, 16, checker))
    write(d / "images/b.png", png(20, 10, gradient))
    write(d / "images/c.jpg", jpeg(8, 8))
    full = png(16, 16, gradient)
    write(d / "images/truncated.png", full[: len(full) // 2])

    def rec(i, question, choices, answer, image, domain="science", topic="physics"):
        return {"id": i, "category": "physical-commonsense", "image_id": i, "question": question, "choices": choices,
                "context": "", "answer": answer, "rationale": f"Look at the picture. The answer is ({answer}).",
                "split": "test", "image": image, "domain": domain, "topic": topic}

    write_jsonl(d / "test.jsonl", [
        rec("m3-1", "Which object is the heaviest?", ["feather", "brick", "leaf", "paper"], "B", "images/a.png"),
        rec("m3-2", "What season is shown?", ["spring", "summer", "autumn", "winter"], "D", "images/b.png", "commonsense", "time"),
        rec("m3-3", "Which number comes next: 2, 4, 6, ?", ["7", "8", "9"], "B", "images/c.jpg", "mathematics", "sequence"),
        "",
        rec("m3-4", "Which animal can fly?", ["dog", "eagle"], "B", None, "science", "biology"),
        rec("m3-5", "What is the weather?", ["sunny", "rainy", "snowy", "windy"], "F", "images/a.png"),
        {k: v for k, v in rec("m3-6", "Which is red?", ["apple", "banana"], "A", "images/b.png").items() if k != "question"},
        rec("m3-7", "Which tool cuts?", ["hammer", "scissors", "ruler"], "B", "images/truncated.png"),
        rec("m3-8", "Which is a fruit?", ["carrot", "apple", "potato"], "B", "images/b.png", "commonsense", "food"),
    ])


def scienceqa():
    d = HERE / "scienceqa"
    write(d / "images/1/image.png", png(32, 16, gradient))
    write(d / "images/4/image.png", png(12, 12, checker))
    full = jpeg(16, 16)
    write(d / "images/7/image.jpg", full[:-10])

    def rec(question, choices, answer, image, hint="", subject="natural science"):
        return {"question": question, "choices": choices, "answer": answer, "hint": hint, "image": image, "task": "closed choice",
                "grade": "grade4", "subject": subject, "topic": "physics", "category": "Physical Science", "skill": "Compare",
                "lecture": "A magnet attracts iron.", "solution": f"The answer is choice {answer}."}

    records = [
        rec("Which of these magnets attract?", ["attract", "repel"], 0, "images/1/image.png", "Two magnets are placed as shown."),
        rec("Which word is a noun?", ["run", "table", "quickly"], 1, None, subject="language science"),
        rec("What is the capital of France?", ["Berlin", "Paris", "Rome", "Madrid"], 1, None, subject="social science"),
        rec("Which material is this spoon made of?", ["wood", "metal"], 1, "images/4/image.png"),
        rec("Which is a mammal?", ["shark", "whale", "trout"], 5, None),
        rec("Which animal has fur?", ["frog", "bear"], 1, "/etc/passwd"),
        rec("Which tool measures length?", ["ruler", "thermometer"], 0, "images/7/image.jpg"),
        rec("Which is a solid?", ["water", "ice", "steam"], 1, None),
    ]
    (d / "problems.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")


def llava():
    d = HERE / "llava"
    write(d / "images/0001.png", png(16, 16, gradient))
    write(d / "images/0002.png", png(24, 12, checker))
    write(d / "images/0003.jpg", jpeg(24, 16))
    link(d / "images/escape.png", "../../mathvista/images/1.png")

    def rec(i, question, answer, image="images/0001.png"):
        out = {"id": i, "conversations": [{"from": "human", "value": ("<image>\n" if image else "") + question},
                                          {"from": "gpt", "value": answer}]}
        if image:
            out["image"] = image
        return out

    write_jsonl(d / "train.jsonl", [
        rec("ll-1", "How many red bars are there?", "There are two tall bars and one short one.\nThe answer is 3."),
        rec("ll-2", "What is the total cost?", "Adding $1.25 and $2.25 gives $3.50.\nFinal answer: \\boxed{3.50}", "images/0002.png"),
        rec("ll-3", "What colour is the sky in the picture?", "Answer: Blue.", "images/0003.jpg"),
        rec("ll-4", "What is 12 times 12?", "12 x 12 = 144\nSo the answer is 144", None),
        {"id": "ll-5", "image": "images/0001.png", "conversations": [{"from": "human", "value": "<image>\nDescribe the chart."}]},
        rec("ll-6", "How many circles?", "The answer is 5.", None) | {"conversations": [
            {"from": "human", "value": "<image>\nHow many circles?"}, {"from": "gpt", "value": "The answer is 5."}]},
        '{"id": "ll-7", "conversations": [',
        rec("ll-8", "What shape is it?", "It is a square.", "images/escape.png"),
        rec("ll-9", "Which is larger, 3 or 7?", "7 is larger than 3.\n\nAnswer: 7", "images/0002.png"),
    ])


def mstar():
    """mstar's own format: a user's minimal record (told by its question template) and an exported one."""
    d = HERE / "mstar"
    d.mkdir(parents=True, exist_ok=True)
    write_jsonl(d / "data.jsonl", [
        {"id": "text-a", "conversations": [{"from": "human", "value": "given 5 2 8 what is the largest digit minus the smallest ?"},
                                           {"from": "gpt", "value": "read 5 2 8 ; largest 8 ; smallest 2 ; 8 - 2 = 6 ; answer 6"}]},
        {"answer": 10, "conversations": [{"from": "human", "value": "given 3 7 what is the sum of the digits ?"},
                                         {"from": "gpt", "value": "read 3 7 ; 3 + 7 = 10 ; answer 10"}],
         "facts": {"heights": [], "reads": [[3, 7]]}, "family": "arithmetic", "id": "text-b", "level": "1"},
    ])


if __name__ == "__main__":
    mathvista()
    m3cot()
    scienceqa()
    llava()
    mstar()
