$ND scan --quiet --keep longest --threshold 0.7 corpora/syndicated-500/docs.jsonl
