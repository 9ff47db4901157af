"""Edge-case strings for tokenizer parity: written to fixtures/reference/tokenizer-strings.json.

  python tools/export/tokenizer_strings.py fixtures/reference/tokenizer-strings.json

Hand-picked cases (case, accents, CJK, emoji, runs of spaces, bytes outside the vocabulary,
empty, over-long, literal special tokens) and seeded random strings drawn from the same kinds of
characters. Deterministic: the same file every run.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HAND = [
    "", " ", "  ", "\t", "\n", " \t\n ", "a", "A", "abc", "ABC", "Hello World", "hello world", "HELLO WORLD",
    "hElLo WoRlD", "This is a photo of a cat.", "An astronaut riding a horse on the moon",
    "two  spaces", "three   spaces", "trailing space ", " leading space", "   many   runs   of   spaces   ",
    "tab\tinside", "new\nline", "carriage\r\nreturn", "nbsp\u00a0here", "ideographic\u3000space",
    "zero\u200bwidth", "soft\u00adhyphen", "Café au lait", "naïve résumé", "ÅNGSTRÖM Ærø", "Straße",
    "İstanbul", "ΣΊΣΥΦΟΣ", "Ὀδυσσεύς", "ǅemal", "ﬁne ﬂow", "Ⅻ ⅷ", "ＦＵＬＬＷＩＤＴＨ", "ｈａｌｆ",
    "e\u0301 combining", "a\u0308\u0304 stacked", "日本語のテキスト", "这是一张猫的照片", "한국어 문장입니다",
    "中文 English 混合", "emoji 🐱🚀", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "❤️ heart", "👍🏽 tone",
    "🇩🇪🇫🇷 flags", "numbers 123 4.5 6,7", "2024-05-17", "3.14159265358979", "1,000,000", "007",
    "punctuation!!! ??? ...", "(brackets) [x] {y}", "\"quotes\" 'single'", "“curly” ‘quotes’ «guillemets»",
    "em—dash – en-dash", "ellipsis…", "¿Qué? ¡Sí!", "a/b\\c|d", "#hashtag @mention", "http://example.com/a?b=c",
    "user@example.org", "C++ & C#", "50% off!", "$100 €50 £20 ¥1000", "→ ← ↑ ↓", "✓ ✗ ★ ☆", "© ® ™",
    "▁metaspace▁char", "▁", "▁▁", "<eos>", "<bos>", "<pad>", "<unk>", "<mask>", "a<eos>b", "x <eos> y",
    "<EOS>", "<eos><eos>", "</s>", "<s>", "\u0000", "\u0001control\u0002", "\u007f", "\ufeffbom",
    "\uffff", "\U0001f600\U0001f601", "\U00010348 gothic", "\U0001d400 math bold", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "ꙮ", "ࠀ samaritan", "ᚠᚢᚦ runes", "ⴰⵣⵓⵍ tifinagh", "ລາວ lao", "ជ khmer", "ᏣᎳᎩ cherokee",
    "Привет, мир!", "ПРИВЕТ МИР", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "สวัสดีชาวโลก", "Xin chào thế giới", "Merhaba Dünya", "Zażółć gęślą jaźń", "Ελληνικά και English",
    "x" * 300, "ab " * 120, "🐱" * 80, "日本" * 100, "A" * 64, "word " * 70, "a" + " " * 200 + "b",
    "a very long sentence that will certainly be truncated because it has far more tokens than the "
    "sixty four positions of the text tower allow, so the tokenizer must keep the end of sequence token "
    "last and drop everything after position sixty three, which is what transformers does",
]

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " " * 8, "\t\n",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßÀÉÎÕÜŒœ", "ĀāĂăĄąĆćČčĎďĒēĘęĚěĞğİıŁłŃńŇňŐőŘřŚśŠšŢţŤťŮůŰűŹźŻżŽž",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗ", "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΣΩάέή",
    "日本語中文字漢字猫犬空海山川火水木金土", "ひらがなカタカナ", "한국어문장고양이", "العربية", "עברית", "हिन्दी",
    "ไทย", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "“”‘’«»—–…¿¡·•°±×÷", "🐱🐶🚀☕❤️👍🏽🎉🌍🍕",
    "\u200b\u200c\u200d\u00a0\u3000\u2028", "ﬁﬂＡＢＣｱｲｳ①②③", "\U0001f9ec\U0001fae0\U000e0041\U0010fffd",
]


def random_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 4)
        chars = "".join(rng.sample(ALPHABETS, k))
        length = rng.choice([1, 2, 5, 10, 20, 40, 80])
        out.append("".join(rng.choice(chars) for _ in range(length)))
    return out


def strings() -> list[str]:
    return HAND + random_strings(120, 2026)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.write_text(json.dumps(strings(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(strings())} strings -> {target}", file=sys.stderr)
