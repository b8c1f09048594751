$ND dedup --quiet --unit line --annotate --boilerplate 5 corpora/syndicated-500/docs.jsonl | head -n 20
