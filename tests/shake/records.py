#!/usr/bin/env python3
"""records.py - seeded JSON Lines of near-duplicate documents, for the CLI
tests and scripts/shake.

    records.py DIR NAME [--paragraphs] [--docs N] [--seed S] [--words MIN-MAX]
               [--no-long] [--id-prefix P] [--field KEY=VALUE] [--jsonl-only]

By default: records of every length, two longer than the reader's blocks,
written as JSON Lines (NAME.jsonl) and as one JSON array (NAME.json) in DIR:
9,000 documents of 1 to 159 words, 4 in 10 a copy of an earlier one with a
word changed, and documents 4000 and 4001 the same 300,000 words (1.2 MB:
longer than the reader's blocks, and their ids longer than a huge page).

--paragraphs puts a paragraph break into 3 documents in 10 (for --unit
paragraph). --docs, --seed (default 17) and --words (a document's words,
MIN to MAX - 1; default 1-160) change the corpus; --no-long leaves the two
long documents out; --id-prefix (default h) starts each id; --field adds a
member of that value to every record (after id and text); --jsonl-only
writes no NAME.json. Used by tests/cli/test_input.sh (records held in the
reader's blocks against copied ones), tests/cli/test_compressed.sh and
scripts/shake; the same call writes the same bytes.
"""
import argparse
import json
import random
import sys


def words_range(s):
    lo, sep, hi = s.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or int(lo) >= int(hi):
        raise argparse.ArgumentTypeError("expected MIN-MAX with MIN < MAX, got %r" % s)
    return int(lo), int(hi)


def field(s):
    key, sep, value = s.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % s)
    return key, value


def main(argv):
    ap = argparse.ArgumentParser(prog="records.py", description="seeded JSON Lines of near-duplicate documents")
    ap.add_argument("dir")
    ap.add_argument("name")
    ap.add_argument("--paragraphs", action="store_true", help="a paragraph break in 3 documents in 10")
    ap.add_argument("--docs", type=int, default=9000, help="documents (default 9000)")
    ap.add_argument("--seed", type=int, default=17, help="random seed (default 17)")
    ap.add_argument("--words", type=words_range, default=(1, 160), help="MIN-MAX words, MAX excluded (default 1-160)")
    ap.add_argument("--no-long", action="store_true", help="without the two documents of 300,000 words")
    ap.add_argument("--id-prefix", default="h", help="what each id starts with (default h)")
    ap.add_argument("--field", type=field, action="append", default=[], help="KEY=VALUE in every record")
    ap.add_argument("--jsonl-only", action="store_true", help="no NAME.json")
    args = ap.parse_args(argv)
    if args.docs < 0 or (not args.no_long and args.docs < 4002):
        ap.error("--docs must be at least 4002 (documents 4000 and 4001 are the long ones; --no-long leaves them out)")
    r = random.Random(args.seed)
    vocab = ["%s%s%s" % (a, b, c) for a in "bdfgklmnprstvz" for b in "aeiou" for c in "lmnrstxz"]
    docs = []
    for _ in range(args.docs):
        if docs and r.random() < 0.4:
            words = list(r.choice(docs))
            words[r.randrange(len(words))] = r.choice(vocab)
        else:
            words = [r.choice(vocab) for _ in range(r.randrange(*args.words))]
        if args.paragraphs and r.random() < 0.3:
            cut = r.randrange(len(words) + 1)
            words = words[:cut] + ["\n\n"] + words[cut:]
        docs.append(words)
    if not args.no_long:
        docs[4000] = [r.choice(vocab) for _ in range(300000)]
        docs[4001] = list(docs[4000])
    recs = []
    for i, w in enumerate(docs):
        rec = {"id": "%s%d" % (args.id_prefix, i), "text": " ".join(w)}
        rec.update(args.field)
        recs.append(rec)
    with open("%s/%s.jsonl" % (args.dir, args.name), "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(x) + "\n" for x in recs))
    if not args.jsonl_only:
        with open("%s/%s.json" % (args.dir, args.name), "w", encoding="utf-8") as f:
            f.write(json.dumps(recs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
