$ND explain --json --id d000027 --id d000277 corpora/mixed-1k/docs.jsonl
