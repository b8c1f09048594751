/* fuzz_record.c - libFuzzer harness: the JSON record reader's fast path for
 * flat objects (json_fast_record, src/cli/json.c) never disagrees with
 * jansson, the authority for what a record is.
 *
 * The input is one JSON Lines line. When the fast path accepts it, jansson's
 * reading of it (doc_json_read without the fast path, src/cli/document.c)
 * must accept it too, with no ill-formed UTF-8 to repair, the same text
 * bytes and the same id (or none); the fields are "text" and "id", or "t"
 * and "i" when the input ends with a 0x01 byte (not part of the line). When the fast path declines,
 * jansson alone decides, which is what the program does. Any difference
 * aborts, which libFuzzer reports with the input. The fast path with a
 * scratch buffer (json_fast_record_into, as the pipeline reads) must give
 * the same text and id, the scratch reused from input to input.
 * And a line jansson reads as an object, its members named like the id
 * dropped (json_members_drop, what --annotate does with an old "neardup"
 * member), is an object jansson reads as the same one without that name.
 * Built with -DND_BUILD_FUZZ=ON (clang); run by scripts/fuzz.
 */
#include <stdint.h> /* uint8_t, SIZE_MAX */
#include <stdlib.h> /* abort, free */
#include <string.h> /* memcmp, strlen */

#include "document.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json_members_drop(line, key) against jansson: the object less `key`. */
static void check_drop(const char *line, size_t size, const char *key)
{
    /* (jansson takes a raw NUL byte after a number as the end of it, where
     * JSON has none: json_members_drop does not read such a line, and
     * --annotate then adds its member as before) */
    if (memchr(line, '\0', size))
        return;
    json_t *whole = json_loadb(line, size, 0, NULL);
    if (!json_is_object(whole)) {
        json_decref(whole);
        return;
    }
    char *out = malloc(size ? size : 1);
    if (!out)
        abort();
    size_t n = json_members_drop(out, line, size, key);
    if (n == SIZE_MAX || n > size)
        abort(); /* an object jansson reads, not read */
    json_t *less = json_loadb(out, n, 0, NULL);
    json_object_del(whole, key);
    if (!less || !json_equal(less, whole))
        abort(); /* not the object less that name */
    json_decref(less);
    json_decref(whole);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    int short_keys = size > 0 && data[size - 1] == 0x01;
    if (short_keys)
        size--; /* the marker is not part of the line */
    const char *text_key = short_keys ? "t" : "text", *id_key = short_keys ? "i" : "id";
    check_drop(line, size, id_key);
    json_fast fast;
    if (!json_fast_record(line, size, text_key, id_key, &fast))
        return 0;
    doc_view v;
    char *why = NULL;
    if (doc_json_read(&v, line, size, text_key, id_key, 0, NULL, &why) != ND_OK)
        abort(); /* out of memory: not expected here */
    if (why)
        abort(); /* the fast path accepted a record jansson rejects */
    if (v.invalid_utf8 != 0)
        abort(); /* the fast path accepted ill-formed UTF-8 */
    if (v.len != fast.text_len || memcmp(v.text, fast.text, v.len) != 0)
        abort(); /* a different text */
    int fast_has_id = fast.id_kind == JSON_ID_STRING || fast.id_kind == JSON_ID_INTEGER;
    if (fast_has_id != (v.id != NULL))
        abort(); /* an id on one path only */
    if (fast_has_id && (strlen(v.id) != fast.id_len || memcmp(v.id, fast.id, fast.id_len) != 0))
        abort();                 /* a different id */
    static json_scratch scratch; /* kept from input to input, as a thread keeps it */
    json_fast into;
    if (!json_fast_record_into(line, size, text_key, id_key, &into, &scratch))
        abort(); /* one path accepted, the other not */
    if (into.decoded || into.text_len != fast.text_len || memcmp(into.text, fast.text, fast.text_len) != 0 ||
        into.id_kind != fast.id_kind || into.id_len != fast.id_len || (fast_has_id && into.id != fast.id))
        abort(); /* a different text or id */
    free(fast.decoded);
    doc_view_close(&v);
    return 0;
}
