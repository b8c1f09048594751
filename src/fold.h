/* fold.h - a profile's fold of text segments with ICU, and the shared table
 * of every BMP code point's fold (see fold.c); what the scripts written
 * without spaces keep (unspaced.c). Internal to the library: the tokenizer
 * (normalize.c) is its only user. */
#ifndef ND_FOLD_H
#define ND_FOLD_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint8_t */

#include <unicode/unorm2.h>  /* UNormalizer2 */
#include <unicode/uscript.h> /* UScriptCode */

#include "neardup.h"

/* A growable UTF-16 buffer. */
typedef struct nd_u16buf {
    UChar *data;
    size_t len, capacity;
} nd_u16buf;

/* Make room for `needed` units. @return ND_OK or ND_ENOMEM. */
int nd_u16buf_reserve(nd_u16buf *buf, size_t needed);
void nd_u16buf_free(nd_u16buf *buf);

/* The fold of a short segment (a BMP code point and up to three marks
 * after it), kept by nd_fold_short_segment() (tokenizer.h, marks.c). */
enum { ND_FOLD_SHORT_MAX = 4 };
typedef struct nd_fold_short {
    uint64_t key;     /* the segment's code points, 16 bits each, the first highest */
    uint8_t n;        /* how many (0: an empty slot) */
    uint8_t flags;    /* ND_FOLD_WORD, ND_FOLD_SEP, ND_FOLD_EMPTY or ND_FOLD_SLOW */
    uint8_t len;      /* bytes of utf8 (ND_FOLD_WORD) */
    uint8_t chars;    /* characters in utf8 (ND_FOLD_WORD) */
    uint8_t unspaced; /* of them, in a script written without spaces
                         (nd_fold_is_unspaced) */
    char utf8[19];    /* the fold (ND_FOLD_WORD), UTF-8 */
} nd_fold_short;

/* One thread's ICU state and scratch for folding segments. */
typedef struct nd_folder {
    nd_profile profile;
    const UNormalizer2 *nfkc_cf, *nfd, *nfc;
    nd_u16buf a, b;             /* a holds the last fold */
    nd_fold_short *short_folds; /* the short segments met lately, by hash
                                   (allocated on first use) */
} nd_folder;

/* What one code point folds to, as a whole segment (see fold.c). */
enum {
    ND_FOLD_WORD = 1,  /* all output characters are word characters */
    ND_FOLD_SEP = 2,   /* all output characters separate words */
    ND_FOLD_EMPTY = 3, /* folds to nothing: neither makes nor splits a word */
    ND_FOLD_SLOW = 4,  /* mixed, or too long for the entry: fold with ICU */
    ND_FOLD_KIND_MASK = 7,
    ND_FOLD_BOUNDARY = 8,    /* a normalization boundary comes before it */
    ND_FOLD_UNSPACED = 16,   /* belongs to a script written without spaces */
    ND_FOLD_SAME_LENGTH = 32 /* ND_FOLD_WORD to one code point as long in UTF-8 as itself */
};

typedef struct nd_fold_entry {
    uint8_t flags;
    uint8_t len;   /* bytes of utf8 (ND_FOLD_WORD only) */
    char utf8[14]; /* the fold, UTF-8 (ND_FOLD_WORD only) */
} nd_fold_entry;

/* The entry of code point c: its fold as a segment of its own (by ICU,
 * now), classified. Beyond the BMP: ND_FOLD_SLOW.
 * @return ND_OK, ND_ENOMEM or ND_EICU. */
int nd_fold_entry_of(nd_fold_entry *e, nd_folder *folder, UChar32 c);

/* 64-bit words of a bitmap over the BMP. */
#define ND_FOLD_BITMAP_WORDS (0x10000 / 64)

/* A profile's tables over the BMP, built once per process (pthread_once)
 * and read-only after. Bit c of a bitmap is word c >> 6, bit c & 63. */
typedef struct nd_fold_tables {
    const nd_fold_entry *entry;     /* 0x10000 entries, one per code point */
    const uint64_t *plain;          /* c folds to itself, a word character with a boundary before it */
    const uint64_t *plain_unspaced; /* the same, in a script written without spaces */
    const uint64_t *cut_keeps;      /* nd_fold_cut_keeps(c) */
    const uint64_t *unspaced_kept;  /* plain_unspaced and cut_keeps (a Han letter, a kana) */
    const uint64_t *separator;      /* c has a boundary before it and folds to
                                       separators only (ND_FOLD_SEP) */
    const uint8_t *dict_kind;       /* 0x10000 bytes: nd_fold_dict_kind(c) */
    const uint8_t *mark_ccc;        /* 0x10000 bytes: nd_fold_stable_mark(folder, c) */
    unsigned kept_lo, kept_hi;      /* the longest run [lo, hi] of unspaced_kept (most
                                       Han letters) */
} nd_fold_tables;

/* @return ND_OK, ND_ENOMEM, ND_EINVAL (unknown profile) or ND_EICU. */
int nd_fold_tables_get(nd_fold_tables *out, nd_profile profile);

/* The tables built from ICU now, into a new block of *block_size bytes
 * that *out points into (nd_free it; the generator writes its bytes, and
 * a test compares them with the prebuilt ones). nd_fold_tables_get uses
 * the prebuilt copy instead when it was made with the ICU and Unicode
 * versions the process runs with (nd_fold_tables_prebuilt: 1 and *out
 * set, else 0). @return ND_OK, ND_ENOMEM, ND_EINVAL or ND_EICU. */
int nd_fold_tables_build(nd_fold_tables *out, void **block, size_t *block_size, nd_profile profile);
int nd_fold_tables_prebuilt(nd_fold_tables *out, nd_profile profile);

/* @return ND_OK or ND_EICU. */
int nd_folder_init(nd_folder *folder, nd_profile profile);
void nd_folder_free(nd_folder *folder);

/* The profile's fold of one segment (a code point with a normalization
 * boundary before it, and the code points up to the next boundary):
 * result in folder->a. @return ND_OK, ND_ENOMEM, ND_EINVAL or ND_EICU. */
int nd_fold_segment(nd_folder *folder, const UChar *segment, size_t len);

/* Does a normalization boundary come before c (ICU's own answer)? */
int nd_fold_boundary_before(const nd_folder *folder, UChar32 c);

/* Does ICU's word break iterator keep the BMP character c in a word
 * wherever it stands in a run of letters? ICU leaves out of every word the
 * pieces of a run it finds no letter or digit in: a mark or modifier letter
 * at its start, a mark of one script after a letter of another, other
 * numbers, unassigned code points, the iteration mark U+3005 after a
 * non-Han letter. So only letters (Lu, Ll, Lt, Lo) and decimal digits,
 * and the kana length and iteration marks, are kept for sure; U+3005 and
 * U+303B are kept after a Han letter, and the marks and modifier letters
 * of the scripts ICU cuts with dictionaries where nd_fold_dict_kind says
 * (segment.c checks both). A check of every code point of the BMP before
 * and after letters of seven scripts, random runs of each dictionary
 * script's characters, ICU's locale names in those languages
 * (tests/test_fastpath.c) and the fuzz harness found nothing this misses. */
int nd_fold_cut_keeps(UChar32 c);

/* nd_fold_cut_keeps of a BMP code point c of general category `type`
 * (u_charType: the table reads categories by ranges). */
int nd_fold_cut_keeps_type(UChar32 c, int type);

/* Where ICU's word breaking keeps a character of a script it cuts with a
 * dictionary (Thai, Lao, Khmer, Myanmar: one engine a script, and a run's
 * words are the engine's pieces of it), beyond nd_fold_cut_keeps: its
 * script (ND_DICT_SCRIPT, 0 for every other script) and what it is. A
 * mark (Mn, Mc) is kept after a letter (Lo) of its own script, or after
 * marks that were; a modifier letter (Lm: the repetition marks U+0E46,
 * U+0EC6, U+17D7) anywhere but at the start of a run. The letters and
 * digits of these scripts are nd_fold_cut_keeps's. Found with ICU 72's
 * dictionaries on random runs of each script's characters and on ICU's own
 * Thai, Lao, Khmer and Burmese locale names (tests/test_fastpath.c),
 * where a mark at the start of a run was left out of every word; a mark
 * after a modifier letter, a digit or a letter of another script was not
 * seen left out, but is not taken as kept either (not proved). */
enum {
    ND_DICT_SCRIPT = 7,    /* 1 Thai, 2 Lao, 3 Khmer, 4 Myanmar; 0 another script */
    ND_DICT_BASE = 8,      /* a letter (Lo) its script's marks may follow */
    ND_DICT_MARK = 16,     /* a mark (Mn, Mc) */
    ND_DICT_MODIFIER = 32, /* a modifier letter (Lm) */
};
uint8_t nd_fold_dict_kind(UChar32 c);

/* nd_fold_dict_kind's script number of `script` (ND_DICT_SCRIPT: 0 when it
 * is not cut with a dictionary). */
uint8_t nd_fold_dict_script(UScriptCode script);

/* nd_fold_dict_kind of a code point of script number `script`
 * (nd_fold_dict_script) and general category `type`. */
uint8_t nd_fold_dict_kind_of(uint8_t script, int type);

/* The combining class of c when c is a mark (Mn, Mc) of a script written
 * without spaces that stays itself after a letter: its class is above 0,
 * NFC and NFKC quick checks say yes (nothing composes with it, nothing
 * maps it) and the profile folds it, alone, to itself (the aggressive
 * profile drops non-spacing marks: 0 there); else 0. Text whose every
 * character passes the quick check is normalized once the marks after each
 * starter are in canonical order (combining classes that do not decrease:
 * UAX #15), and the profile's own steps act on single code points; so the
 * fast path (fastpath.c) copies a plain letter and such marks after it as
 * they are (a Thai consonant with its vowel sign below and tone mark). */
uint8_t nd_fold_stable_mark(nd_folder *folder, UChar32 c);

/* nd_fold_stable_mark of a mark c of a script without spaces, given its
 * entry (nd_fold_entry_of): the table's way, without folding it again. */
uint8_t nd_fold_stable_mark_of(const nd_fold_entry *e, UChar32 c);

/* Is c a word character (general category L, M or N)? */
int nd_fold_is_word_char(UChar32 c);

/* The scripts written without spaces: Han, Hiragana, Katakana, Thai, Lao,
 * Khmer, Myanmar. */
enum { ND_UNSPACED_SCRIPTS = 7 };
extern const UScriptCode nd_unspaced_scripts[ND_UNSPACED_SCRIPTS];

/* Does c belong to a script written without spaces? */
int nd_fold_is_unspaced(UChar32 c);

#endif /* ND_FOLD_H */
