"""A small Gemma-style tokenizer for random SigLIP 2 models, and the SigLIP 2 tokenizer files.

SigLIP 2's fixed-resolution checkpoints (google/siglip2-base-patch16-224, ...) ship Gemma's
tokenizer: SentencePiece BPE with byte fallback, 256k pieces, special layout <pad>=0, <eos>=1,
<bos>=2, <unk>=3, <mask>=4, and a tokenizer.json whose post-processor appends <eos>
(tokenizer_config.json: GemmaTokenizer, add_bos_token false, add_eos_token true). transformers'
Siglip2Tokenizer is GemmaTokenizer with a Lowercase normaliser in front (the model was trained on
lower-cased text); both pad on the left by default.

The tokenizer trained here has the same layout and settings as Gemma's (BPE, byte fallback,
identity normalisation, no dummy prefix, whitespace kept, digits split) with a small vocabulary,
so that a fixture stays small. tokenizer.json is written by transformers' own GemmaTokenizer
(its slow -> fast conversion, merges ordered by piece score).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = (HERE / "corpus.txt", HERE / "corpus-multilingual.txt")
GEMMA_VOCAB = 2000  # pieces of the trained tokenizer: 5 special + 256 bytes + characters + merges


def corpus_lines(canonical=None) -> list[str]:
    lines = []
    for path in CORPORA:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = canonical(line) if canonical else line
            if line.strip():
                lines.append(line)
    return lines


def train_gemma_spm(out_file: Path, vocab_size: int, seed: int) -> None:
    """SentencePiece BPE with Gemma's settings, trained on the bundled corpora (not lower-cased:
    Gemma's own vocabulary has both cases), deterministically (seed, one thread)."""
    import sentencepiece as spm

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # relative names: the trainer records them in the model file
        try:
            Path("corpus.txt").write_text("\n".join(corpus_lines()) + "\n", encoding="utf-8")
            spm.set_random_generator_seed(seed)
            spm.SentencePieceTrainer.train(
                input="corpus.txt", model_prefix="tokenizer", model_type="bpe", vocab_size=vocab_size,
                character_coverage=0.9995, normalization_rule_name="identity", add_dummy_prefix=False,
                remove_extra_whitespaces=False, split_digits=True, byte_fallback=True,
                allow_whitespace_only_pieces=True, split_by_whitespace=True,
                pad_id=0, pad_piece="<pad>", eos_id=1, eos_piece="<eos>", bos_id=2, bos_piece="<bos>",
                unk_id=3, unk_piece="<unk>", user_defined_symbols=["<mask>"],
                num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
            )
        finally:
            os.chdir(cwd)
        shutil.copyfile(Path(tmp) / "tokenizer.model", out_file)


def write_siglip2_tokenizer_files(spm_file: Path, out: Path, max_length: int) -> None:
    """tokenizer.json (GemmaTokenizer's conversion, post-processor `$A <eos>`) and a
    tokenizer_config.json like the SigLIP 2 checkpoints' (GemmaTokenizer, add_eos_token)."""
    from transformers import GemmaTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(spm_file, Path(tmp) / "tokenizer.model")
        tok = GemmaTokenizer.from_pretrained(tmp, add_bos_token=False, add_eos_token=True)
        tok.save_pretrained(str(Path(tmp) / "saved"))
        data = json.loads((Path(tmp) / "saved" / "tokenizer.json").read_text(encoding="utf-8"))
    post = data.get("post_processor") or {}
    if [next(iter(x)) for x in post.get("single", [])] != ["Sequence", "SpecialToken"]:
        raise SystemExit(f"unexpected post-processor {post}")
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    cfg = {
        "tokenizer_class": "GemmaTokenizer",
        "add_bos_token": False,
        "add_eos_token": True,
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "model_max_length": max_length,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    stm = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
           "mask_token": "<mask>"}
    (out / "special_tokens_map.json").write_text(json.dumps(stm, indent=2) + "\n")


def siglip2_tokenizers(directory):
    """(Siglip2Tokenizer, GemmaTokenizer) from a directory with tokenizer.json: lower-casing and not."""
    from transformers import GemmaTokenizer, Siglip2Tokenizer

    low = Siglip2Tokenizer.from_pretrained(str(directory))
    raw = GemmaTokenizer.from_pretrained(str(directory))
    for t, want in ((low, "Siglip2Tokenizer"), (raw, "GemmaTokenizer")):
        if type(t).__name__ != want:
            raise SystemExit(f"expected {want}, got {type(t).__name__}")
    return low, raw


def check_siglip2_tokenizer(directory: Path, texts: list[str]) -> None:
    """Siglip2Tokenizer must lower-case (GemmaTokenizer not), append <eos>, never add <bos>."""
    low, raw = siglip2_tokenizers(directory)
    if low("ABC")["input_ids"] != low("abc")["input_ids"] or raw("ABC")["input_ids"] == raw("abc")["input_ids"]:
        raise SystemExit("Siglip2Tokenizer does not lower-case, or GemmaTokenizer does")
    for t in (t for t in texts if "<" not in t):  # literal special tokens are matched as such
        ids = low(t)["input_ids"]
        if ids[-1] != low.eos_token_id or (ids and ids[0] == low.bos_token_id):
            raise SystemExit(f"{t!r}: {ids} does not end with <eos> only")
