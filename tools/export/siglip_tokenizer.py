"""The SigLIP (v1) tokenizer files: SentencePiece unigram model, tokenizer.json and their checks.

Trains the spiece.model of random models on the bundled corpus, converts a spiece.model to the
tokenizer.json the TypeScript side reads, and checks that tokenizer.json on canonicalised text
gives SiglipTokenizer's ids. SigLIP 2's Gemma tokenizer is gemma_tokenizer.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import tempfile
from pathlib import Path

from export_common import log

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.txt"


def canonicalize(text: str) -> str:
    """As SiglipTokenizer.canonicalize_text: lower case, no ASCII punctuation, single spaces, stripped."""
    text = text.lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def train_spiece(out_file: Path, vocab_size: int, seed: int, corpora: tuple[Path, ...] = (CORPUS,)) -> None:
    """Train a small SentencePiece unigram model on the bundled corpus, deterministically.

    Special pieces as in google/siglip's spiece.model: <pad>=0, </s>=1 (EOS, also SiglipTokenizer's
    pad token), <unk>=2, no BOS. The corpus is canonicalised first (lower case, no ASCII
    punctuation), as SiglipTokenizer canonicalises every input before SentencePiece sees it.
    """
    import sentencepiece as spm

    lines = [canonicalize(l) for c in corpora for l in c.read_text(encoding="utf-8").splitlines()]
    lines = [l for l in lines if l]
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        # relative names: the trainer records input and model_prefix in the model file
        os.chdir(tmp)
        try:
            Path("corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            spm.set_random_generator_seed(seed)
            _train_spiece(spm, vocab_size)
        finally:
            os.chdir(cwd)
        shutil.copyfile(Path(tmp) / "spiece.model", out_file)


def _train_spiece(spm, vocab_size: int) -> None:
    spm.SentencePieceTrainer.train(
        input="corpus.txt",
        model_prefix="spiece",
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        split_by_whitespace=True,
        byte_fallback=False,
        pad_id=0, pad_piece="<pad>",
        eos_id=1, eos_piece="</s>",
        unk_id=2, unk_piece="<unk>",
        bos_id=-1,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )


def fast_tokenizer_from_slow(slow) -> "tokenizers.Tokenizer":
    """tokenizer.json for a SiglipTokenizer.

    transformers' convert_slow_tokenizer has no converter for SiglipTokenizer, so this one is built
    like its T5 converter: Unigram model with the spiece scores, the spiece precompiled charsmap
    normaliser (+ right strip, runs of spaces to "▁"), Metaspace pre-tokenizer (prepend "▁"), and a
    post-processor appending </s>. Canonicalisation (lower case, punctuation removal, whitespace
    collapse) is NOT in it: SiglipTokenizer does that in Python before SentencePiece, and so must
    any user of this tokenizer.json.
    """
    from tokenizers import processors
    from transformers.convert_slow_tokenizer import SpmConverter

    class SiglipConverter(SpmConverter):
        def post_processor(self):
            eos = self.original_tokenizer.convert_tokens_to_ids("</s>")
            return processors.TemplateProcessing(
                single=["$A", "</s>"],
                pair=["$A", "</s>", "$B", "</s>"],
                special_tokens=[("</s>", eos)],
            )

    return SiglipConverter(slow).converted()


def slow_tokenizer(path: Path, max_length: int):
    from transformers import SiglipTokenizer

    return SiglipTokenizer(vocab_file=str(path), model_max_length=max_length)


def write_tokenizer_files(spiece: Path, out: Path, max_length: int) -> None:
    """spiece.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json."""
    slow = slow_tokenizer(spiece, max_length)
    shutil.copyfile(spiece, out / "spiece.model")
    fast = fast_tokenizer_from_slow(slow)
    fast.save(str(out / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "SiglipTokenizer",
        "model_max_length": max_length,
        "do_lower_case": True,
        "eos_token": "</s>",
        "pad_token": "</s>",
        "unk_token": "<unk>",
        "additional_special_tokens": [],
        "sp_model_kwargs": {},
        "added_tokens_decoder": {
            str(i): {"content": tok, "lstrip": True, "normalized": False, "rstrip": True,
                     "single_word": False, "special": True}
            for i, tok in ((1, "</s>"), (2, "<unk>"))
        },
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    stm = {k: {"content": v, "lstrip": True, "normalized": False, "rstrip": True, "single_word": False}
           for k, v in (("eos_token", "</s>"), ("pad_token", "</s>"), ("unk_token", "<unk>"))}
    (out / "special_tokens_map.json").write_text(json.dumps(stm, indent=2) + "\n")


def encode_with_tokenizer_json(tok_json: Path, canonical_texts: list[str]) -> list[list[int]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_json))
    return [tok.encode(t).ids for t in canonical_texts]


def verify_tokenizer(model_dir: Path, texts: list[str], max_length: int) -> None:
    """tokenizer.json on canonicalised text must give SiglipTokenizer's ids (before padding/truncation)."""
    slow = slow_tokenizer(model_dir / "spiece.model", max_length)
    want = [slow(t, add_special_tokens=True)["input_ids"] for t in texts]
    got = encode_with_tokenizer_json(model_dir / "tokenizer.json", [canonicalize(t) for t in texts])
    bad = [(t, w, g) for t, w, g in zip(texts, want, got) if w != g]
    for t, w, g in bad[:10]:
        log(f"  tokenizer mismatch {t!r}: SiglipTokenizer {w} tokenizer.json {g}")
    if bad:
        raise SystemExit(f"tokenizer.json differs from SiglipTokenizer on {len(bad)}/{len(texts)} texts")
    log(f"tokenizer.json == SiglipTokenizer on {len(texts)} texts")
