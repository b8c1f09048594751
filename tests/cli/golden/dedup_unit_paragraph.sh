$ND dedup --quiet --unit paragraph tests/fixtures/paragraphs/
