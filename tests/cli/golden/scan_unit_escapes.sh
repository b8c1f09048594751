$ND scan --quiet --unit paragraph --boilerplate 30 tests/fixtures/units/escapes.jsonl
