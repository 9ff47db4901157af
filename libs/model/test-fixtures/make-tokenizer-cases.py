"""Writes tokenizer-cases.json: what transformers' SiglipTokenizer and the sentencepiece library
make of edge-case strings with the committed tiny model's spiece.model, beyond the reference
texts: literal special tokens, U+2581, control and format characters, Python-only whitespace,
compatibility forms, and 300 seeded random strings.

    .venv/bin/python libs/model/test-fixtures/make-tokenizer-cases.py

CI never runs this; the JSON it writes is committed.
"""
import hashlib
import json
import pathlib
import random
import warnings

import sentencepiece
from transformers import SiglipTokenizer

HERE = pathlib.Path(__file__).parent
SPIECE = HERE.parent.parent.parent / "fixtures/models/tiny-siglip/spiece.model"
MAX_LENGTH = 16

EDGE = [
    "</s>", "a </s> b", " <unk> x", "x<unk>", "hello</s>", "</s></s>", "<pad> x", "<unk>",
    "\u2581", "\u2581 hello", "  \u2581\u2581 x", "\u200b", "\x00a\x01b", "\ufeffbom", "a\u0085b", "x\x1cy",
    "\ufb00 ligature", "\u337f \u3300", "\u2460\u2461", "\uff76\uff80\uff76\uff85", "\u0301a", "\u216b",
    "\u2028line", "\u00bd \u00bc", " ".join(["word"] * 20), "\u01c5 \u01c8", "\u03a3\u0391\u03a3", "\u0130\u0131",
    "\u00df", "\ufb06", "\U0001F600\U0001F601 xyz", "a\u00a0b", "a\u3000b", "tab\t\tx", "\r\n", "a\rb",
    "ＡＢＣ．", "x\u00adsoft hyphen", "\u2126 ohm \u212b", "e\u0301\u0301", "\u3131\u314f",
]

alphabet = list("abcdefghijklmnopqrstuvwxyz     ,.!?'-_ÉéüßΣς日本語🐱\t\n\u00a0\u2581<>/") + ["</s>", "<unk>"]
rng = random.Random(0)
randoms = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(300)]

tokenizer = SiglipTokenizer(vocab_file=str(SPIECE), model_max_length=MAX_LENGTH)
sp = sentencepiece.SentencePieceProcessor(model_file=str(SPIECE))
cases = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "This sequence already has </s>"
    for text in EDGE + randoms:
        cases.append({
            "text": text,
            "tokens": tokenizer.tokenize(text),
            "input_ids": tokenizer(text, padding="max_length", max_length=MAX_LENGTH, truncation=True)["input_ids"],
            "sp_normalized": sp.normalize(text),
        })
out = {"spiece": "fixtures/models/tiny-siglip/spiece.model",
       "spiece_sha256": hashlib.sha256(SPIECE.read_bytes()).hexdigest(), "max_length": MAX_LENGTH,
       "sentencepiece": sentencepiece.__version__, "cases": cases}
path = HERE / "tokenizer-cases.json"
path.write_text(json.dumps(out, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
print(f"wrote {path} ({len(cases)} cases, {path.stat().st_size} bytes)")
