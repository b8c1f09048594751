$ND scan --quiet corpora/mixed-1k/docs.jsonl
