$ND normalize --shingles tests/fixtures/normalize/arabic-tashkeel.txt tests/fixtures/cjk/ja-a.txt
