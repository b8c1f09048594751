$ND dedup --quiet tests/fixtures/arabic-news/
