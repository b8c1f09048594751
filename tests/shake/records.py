#!/usr/bin/env python3
"""records.py - records of every length, two longer than the reader's
blocks, written as JSON Lines (NAME.jsonl) and as one JSON array
(NAME.json) in DIR: 9,000 documents, 4 in 10 a copy of an earlier one with
a word changed, and documents 4000 and 4001 the same 300,000 words (1.2 MB:
longer than the reader's blocks, and their ids longer than a huge page).

    records.py DIR NAME [--paragraphs]

--paragraphs puts a paragraph break into 3 documents in 10 (for
--unit paragraph). Used by tests/cli/test_input.sh (records held in the
reader's blocks against copied ones) and scripts/shake; the sequence is
fixed (seed 17), so the same call writes the same bytes.
"""
import json
import random
import sys


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--paragraphs"):
        sys.stderr.write("usage: records.py DIR NAME [--paragraphs]\n")
        return 2
    out, name, paragraphs = argv[0], argv[1], len(argv) == 3
    r = random.Random(17)
    vocab = ["%s%s%s" % (a, b, c) for a in "bdfgklmnprstvz" for b in "aeiou" for c in "lmnrstxz"]
    docs = []
    for _ in range(9000):
        if docs and r.random() < 0.4:
            words = list(r.choice(docs))
            words[r.randrange(len(words))] = r.choice(vocab)
        else:
            words = [r.choice(vocab) for _ in range(r.randrange(1, 160))]
        if paragraphs and r.random() < 0.3:
            cut = r.randrange(len(words) + 1)
            words = words[:cut] + ["\n\n"] + words[cut:]
        docs.append(words)
    docs[4000] = [r.choice(vocab) for _ in range(300000)]
    docs[4001] = list(docs[4000])
    recs = [{"id": "h%d" % i, "text": " ".join(w)} for i, w in enumerate(docs)]
    with open("%s/%s.jsonl" % (out, name), "w") as f:
        f.write("".join(json.dumps(x) + "\n" for x in recs))
    with open("%s/%s.json" % (out, name), "w") as f:
        f.write(json.dumps(recs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
