$ND scan --quiet --unit line corpora/syndicated-500/docs.jsonl | head -n 30
