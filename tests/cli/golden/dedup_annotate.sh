$ND dedup --quiet --annotate corpora/mixed-1k/docs.jsonl | head -n 40
