$ND scan --quiet tests/fixtures/arabic-news/
