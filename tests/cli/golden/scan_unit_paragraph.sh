$ND scan --quiet --unit paragraph tests/fixtures/paragraphs/
