/* unspaced.c - what a script written without spaces is to the tokenizer:
 * which scripts they are, what ICU's word breaking keeps of their runs,
 * and which of their marks stay themselves after a letter.
 *
 * Chinese, Japanese, Thai, Lao, Khmer and Burmese write no spaces between
 * words. Character shingles read such a run whole; ICU's word break
 * iterator would cut it into words with a dictionary, and the two give the
 * same characters only where the cut leaves none out (segment.c checks a
 * run with nd_fold_cut_keeps and nd_fold_dict_kind before skipping the
 * cut). The tokenizer's fast path copies a letter of these scripts with
 * the marks after it that stay themselves (nd_fold_stable_mark_of). These
 * are facts about single code points, read from ICU's properties; fold.c
 * puts them in its per-process tables (fold.h says what each means and how
 * it was found).
 */
#include "fold.h"

#include <string.h> /* memcmp */

#include <unicode/uchar.h>   /* u_charType, u_getCombiningClass, u_getIntPropertyValue */
#include <unicode/uscript.h> /* uscript_getScript */
#include <unicode/utf8.h>    /* U8_APPEND_UNSAFE */

const UScriptCode nd_unspaced_scripts[ND_UNSPACED_SCRIPTS] = {
    USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA, USCRIPT_THAI, USCRIPT_LAO, USCRIPT_KHMER, USCRIPT_MYANMAR};

int nd_fold_is_unspaced(UChar32 c)
{
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode script = uscript_getScript(c, &status);
    if (U_FAILURE(status))
        return 0;
    for (size_t k = 0; k < ND_UNSPACED_SCRIPTS; k++) {
        if (script == nd_unspaced_scripts[k])
            return 1;
    }
    return 0;
}

int nd_fold_cut_keeps_type(UChar32 c, int type)
{
    switch (c) {
    case 0x30FC: /* KATAKANA-HIRAGANA PROLONGED SOUND MARK */
    case 0xFF70: /* its half-width form */
    case 0x309D: /* HIRAGANA ITERATION MARK, and voiced */
    case 0x309E:
    case 0x30FD: /* KATAKANA ITERATION MARK, and voiced */
    case 0x30FE:
        return 1;
    default:
        return type == U_UPPERCASE_LETTER || type == U_LOWERCASE_LETTER || type == U_TITLECASE_LETTER ||
               type == U_OTHER_LETTER || type == U_DECIMAL_DIGIT_NUMBER;
    }
}

int nd_fold_cut_keeps(UChar32 c)
{
    return c <= 0xFFFF && nd_fold_cut_keeps_type(c, u_charType(c));
}

uint8_t nd_fold_dict_script(UScriptCode script)
{
    switch (script) {
    case USCRIPT_THAI:
        return 1;
    case USCRIPT_LAO:
        return 2;
    case USCRIPT_KHMER:
        return 3;
    case USCRIPT_MYANMAR:
        return 4;
    default:
        return 0;
    }
}

uint8_t nd_fold_dict_kind_of(uint8_t script, int type)
{
    if (script == 0)
        return 0;
    switch (type) {
    case U_OTHER_LETTER:
        return (uint8_t)(script | ND_DICT_BASE);
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
        return (uint8_t)(script | ND_DICT_MARK);
    case U_MODIFIER_LETTER:
        return (uint8_t)(script | ND_DICT_MODIFIER);
    default:
        return script;
    }
}

uint8_t nd_fold_dict_kind(UChar32 c)
{
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode script = uscript_getScript(c, &status);
    if (c > 0xFFFF || U_FAILURE(status))
        return 0;
    return nd_fold_dict_kind_of(nd_fold_dict_script(script), u_charType(c));
}

uint8_t nd_fold_stable_mark_of(const nd_fold_entry *e, UChar32 c)
{
    uint8_t ccc = u_getCombiningClass(c);
    char utf8[4];
    size_t n = 0;
    U8_APPEND_UNSAFE(utf8, n, c);
    if (ccc == 0 || (e->flags & ND_FOLD_KIND_MASK) != ND_FOLD_WORD || e->len != n || memcmp(e->utf8, utf8, n) != 0 ||
        u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) != UNORM_YES ||
        u_getIntPropertyValue(c, UCHAR_NFKC_QUICK_CHECK) != UNORM_YES)
        return 0;
    return ccc;
}
