$ND explain --json tests/fixtures/arabic-news/page.txt tests/fixtures/arabic-news/rewrite-word.txt
