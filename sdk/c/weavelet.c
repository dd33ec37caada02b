/* The C SDK's runtime: implements the exports `nodes` and `run` of
 * `weavelet:node/node@0.4.0` over the table that WV_MODULE defines.
 *
 * Ownership rules of the wit-bindgen C bindings that this file follows:
 *  - Export arguments (`name`, `inputs`) belong to the guest: we free them.
 *    The generated *_free functions free memory but never drop resource
 *    handles, so owned handles in the inputs are dropped here (unless the
 *    node took or returned them).
 *  - Export results (node decls, the returned value or error) must be
 *    malloc'd: the generated cabi_post_* functions free them after the host
 *    has copied them. Strings of length 0 are never freed.
 *  - Import arguments are borrowed by the host for the call only; import
 *    results (strings, lists, owned handles) belong to the guest.
 *  - Never call *_drop_borrow on an imported resource: a borrow of an
 *    imported resource is the same handle, and dropping it drops the owner.
 */
#include "weavelet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef weavelet_node_types_node_decl_t decl_t;
typedef weavelet_node_types_input_decl_t input_decl_t;
typedef weavelet_node_types_column_t column_t;
typedef weavelet_node_types_capability_t capability_t;
typedef weavelet_node_types_node_error_t node_error_t;
typedef exports_weavelet_node_node_list_tuple2_string_value_t inputs_t;

/* A tracked owned handle. */
typedef struct handle {
    uint8_t tag; /* WEAVELET_NODE_TYPES_VALUE_TABLE / _SVG / _IMAGE */
    int32_t id;
} handle;

struct wv_call {
    const wv_node *node;
    inputs_t *inputs;
    void **arena; /* malloc'd blocks, freed after the call */
    size_t arena_len, arena_cap;
    handle *kept; /* owned handles to drop after the call */
    size_t kept_len, kept_cap;
    wv_string err; /* error slot for WV_TRY */
    bool done;     /* a result or an error was recorded */
    bool ok;
    wv_value result;
    node_error_t error;
};

/* ---- Small helpers ------------------------------------------------------ */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort(); /* out of memory: nothing sensible left to do */
    return p;
}

static void *grow(void *p, size_t *cap, size_t elem) {
    *cap = *cap ? *cap * 2 : 8;
    void *q = realloc(p, *cap * elem);
    if (!q) abort();
    return q;
}

/* A malloc'd WIT string copy of `s` (what export results need). */
static wv_string dup_n(const char *s, size_t len) {
    wv_string out;
    module_string_dup_n(&out, s, len);
    return out;
}
static wv_string dup(const char *s) { return dup_n(s ? s : "", s ? strlen(s) : 0); }

static bool str_eq(const wv_string *a, const char *b) {
    size_t n = strlen(b);
    return a->len == n && memcmp(a->ptr, b, n) == 0;
}

/* vsnprintf into a fresh malloc'd buffer. */
static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *buf = xmalloc((size_t)n + 1);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    return buf;
}

static const char *type_name(uint8_t value_tag) {
    static const char *const names[] = {
        "null",     "bool",       "int",       "float", "text", "bytes", "bool-list",
        "int-list", "float-list", "text-list", "table", "svg",  "image", "images",
    };
    return value_tag < sizeof names / sizeof names[0] ? names[value_tag] : "unknown";
}

static const char *decl_type_name(wv_type t) {
    static const char *const names[] = {
        "any",      "null",       "bool",      "int",   "float", "text",  "bytes",  "bool-list",
        "int-list", "float-list", "text-list", "table", "svg",   "image", "images",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* The value tag that carries a declared type (WV_ANY: none). */
static int value_tag_of(wv_type t) {
    switch (t) {
    case WV_NULL: return WEAVELET_NODE_TYPES_VALUE_NULL;
    case WV_BOOL: return WEAVELET_NODE_TYPES_VALUE_BOOL;
    case WV_INT: return WEAVELET_NODE_TYPES_VALUE_INT;
    case WV_FLOAT: return WEAVELET_NODE_TYPES_VALUE_FLOAT;
    case WV_TEXT: return WEAVELET_NODE_TYPES_VALUE_TEXT;
    case WV_BYTES: return WEAVELET_NODE_TYPES_VALUE_BYTES;
    case WV_BOOL_LIST: return WEAVELET_NODE_TYPES_VALUE_BOOL_LIST;
    case WV_INT_LIST: return WEAVELET_NODE_TYPES_VALUE_INT_LIST;
    case WV_FLOAT_LIST: return WEAVELET_NODE_TYPES_VALUE_FLOAT_LIST;
    case WV_TEXT_LIST: return WEAVELET_NODE_TYPES_VALUE_TEXT_LIST;
    case WV_TABLE: return WEAVELET_NODE_TYPES_VALUE_TABLE;
    case WV_SVG: return WEAVELET_NODE_TYPES_VALUE_SVG;
    case WV_IMAGE: return WEAVELET_NODE_TYPES_VALUE_IMAGE;
    case WV_IMAGES: return WEAVELET_NODE_TYPES_VALUE_IMAGES;
    case WV_ANY: break;
    }
    return -1;
}

/* ---- Declarations (export `nodes`) -------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Next comma-separated item of *p, trimmed; false at the end. */
static bool next_item(const char **p, const char **start, size_t *len) {
    const char *s = *p;
    while (*s && (is_space(*s) || *s == ','))
        s++;
    if (!*s) return false;
    const char *e = s;
    while (*e && *e != ',')
        e++;
    *p = e;
    while (e > s && is_space(e[-1]))
        e--;
    *start = s;
    *len = (size_t)(e - s);
    return true;
}

/* Split "a = b" / "a: b" at `sep` into trimmed halves. */
static bool split(const char *s, size_t len, char sep, wv_string *left, wv_string *right) {
    const char *m = memchr(s, sep, len);
    if (!m) return false;
    const char *le = m, *rs = m + 1, *re = s + len;
    while (le > s && is_space(le[-1]))
        le--;
    while (rs < re && is_space(*rs))
        rs++;
    *left = dup_n(s, (size_t)(le - s));
    *right = dup_n(rs, (size_t)(re - rs));
    return true;
}

/* "name: dtype, name: dtype" -> list<column>; a bare name means `any`. */
static weavelet_node_types_list_column_t parse_columns(const char *spec) {
    weavelet_node_types_list_column_t out = {NULL, 0};
    size_t cap = 0;
    const char *p = spec ? spec : "", *s;
    size_t len;
    while (next_item(&p, &s, &len)) {
        if (out.len == cap) out.ptr = grow(out.ptr, &cap, sizeof(column_t));
        column_t *c = &out.ptr[out.len++];
        if (!split(s, len, ':', &c->name, &c->dtype)) {
            c->name = dup_n(s, len);
            c->dtype = dup("any");
        }
    }
    return out;
}

/* "read-dir=/data, write-dir=/out, env=KEY, clock, random" -> list<capability>. */
static weavelet_node_types_list_capability_t parse_capabilities(const char *spec) {
    weavelet_node_types_list_capability_t out = {NULL, 0};
    size_t cap = 0;
    const char *p = spec ? spec : "", *s;
    size_t len;
    while (next_item(&p, &s, &len)) {
        wv_string key, arg;
        capability_t c;
        if (split(s, len, '=', &key, &arg)) {
            if (str_eq(&key, "read-dir")) {
                c.tag = WEAVELET_NODE_TYPES_CAPABILITY_READ_DIR;
                c.val.read_dir = arg;
            } else if (str_eq(&key, "write-dir")) {
                c.tag = WEAVELET_NODE_TYPES_CAPABILITY_WRITE_DIR;
                c.val.write_dir = arg;
            } else if (str_eq(&key, "env")) {
                c.tag = WEAVELET_NODE_TYPES_CAPABILITY_ENV;
                c.val.env = arg;
            } else {
                module_string_free(&key);
                module_string_free(&arg);
                continue; /* unknown capability: ignored */
            }
            module_string_free(&key);
        } else if (len == 5 && memcmp(s, "clock", 5) == 0) {
            c.tag = WEAVELET_NODE_TYPES_CAPABILITY_CLOCK;
        } else if (len == 6 && memcmp(s, "random", 6) == 0) {
            c.tag = WEAVELET_NODE_TYPES_CAPABILITY_RANDOM;
        } else {
            continue;
        }
        if (out.len == cap) out.ptr = grow(out.ptr, &cap, sizeof(capability_t));
        out.ptr[out.len++] = c;
    }
    return out;
}

static const char *node_name(const wv_node *n) { return n->name ? n->name : n->fn_name; }

static size_t input_count(const wv_node *n) {
    size_t k = 0;
    while (n->inputs && n->inputs[k].name)
        k++;
    return k;
}

void exports_weavelet_node_node_nodes(exports_weavelet_node_node_list_node_decl_t *ret) {
    size_t count = 0;
    while (wv_module_nodes[count])
        count++;
    ret->len = count;
    ret->ptr = xmalloc(count * sizeof(decl_t));
    for (size_t i = 0; i < count; i++) {
        const wv_node *n = wv_module_nodes[i];
        decl_t *d = &ret->ptr[i];
        d->name = dup(node_name(n));
        d->doc = dup(n->doc);
        d->output = (weavelet_node_types_value_type_t)n->output;
        d->output_columns = parse_columns(n->output_columns);
        d->capabilities = parse_capabilities(n->capabilities);
        size_t k = input_count(n);
        d->inputs.len = k;
        d->inputs.ptr = k ? xmalloc(k * sizeof(input_decl_t)) : NULL;
        for (size_t j = 0; j < k; j++) {
            const wv_input *in = &n->inputs[j];
            input_decl_t *o = &d->inputs.ptr[j];
            o->name = dup(in->name);
            o->ty = (weavelet_node_types_value_type_t)in->type;
            o->optional = in->optional;
            o->columns = parse_columns(in->columns);
        }
    }
}

/* ---- The call: arena, tracked handles, inputs --------------------------- */

void *wv_alloc(wv_call *call, size_t size) {
    if (call->arena_len == call->arena_cap) call->arena = grow(call->arena, &call->arena_cap, sizeof(void *));
    void *p = xmalloc(size);
    call->arena[call->arena_len++] = p;
    return p;
}

static void keep(wv_call *call, uint8_t tag, int32_t id) {
    if (call->kept_len == call->kept_cap) call->kept = grow(call->kept, &call->kept_cap, sizeof(handle));
    call->kept[call->kept_len++] = (handle){tag, id};
}

wv_table_t wv_keep_table(wv_call *call, wv_table_t t) {
    keep(call, WEAVELET_NODE_TYPES_VALUE_TABLE, t.__handle);
    return t;
}
wv_svg_t wv_keep_svg(wv_call *call, wv_svg_t s) {
    keep(call, WEAVELET_NODE_TYPES_VALUE_SVG, s.__handle);
    return s;
}
wv_image_t wv_keep_image(wv_call *call, wv_image_t i) {
    keep(call, WEAVELET_NODE_TYPES_VALUE_IMAGE, i.__handle);
    return i;
}

static void drop_handle(uint8_t tag, int32_t id) {
    switch (tag) {
    case WEAVELET_NODE_TYPES_VALUE_TABLE: weavelet_node_types_table_drop_own((wv_table_t){id}); break;
    case WEAVELET_NODE_TYPES_VALUE_SVG: weavelet_node_types_svg_drop_own((wv_svg_t){id}); break;
    case WEAVELET_NODE_TYPES_VALUE_IMAGE: weavelet_node_types_image_drop_own((wv_image_t){id}); break;
    }
}

/* Drop the owned handles inside a value (the *_free functions do not). */
static void drop_value_handles(wv_value *v) {
    switch (v->tag) {
    case WEAVELET_NODE_TYPES_VALUE_TABLE:
    case WEAVELET_NODE_TYPES_VALUE_SVG:
    case WEAVELET_NODE_TYPES_VALUE_IMAGE:
        drop_handle(v->tag, v->val.table.__handle); /* same layout for the three */
        break;
    case WEAVELET_NODE_TYPES_VALUE_IMAGES:
        for (size_t i = 0; i < v->val.images.len; i++)
            drop_handle(WEAVELET_NODE_TYPES_VALUE_IMAGE, v->val.images.ptr[i].__handle);
        break;
    }
}

/* A handle that leaves through the result: stop tracking it, and take it
 * out of the inputs if it came from there. */
static void release(wv_call *call, uint8_t tag, int32_t id) {
    for (size_t i = 0; i < call->kept_len; i++) {
        if (call->kept[i].tag == tag && call->kept[i].id == id) call->kept[i].tag = 0;
    }
    for (size_t i = 0; i < call->inputs->len; i++) {
        wv_value *v = &call->inputs->ptr[i].f1;
        if (v->tag == tag && v->val.table.__handle == id) v->tag = WEAVELET_NODE_TYPES_VALUE_NULL;
    }
}

static wv_value *find(wv_call *call, const char *name) {
    for (size_t i = 0; i < call->inputs->len; i++) {
        if (str_eq(&call->inputs->ptr[i].f0, name)) return &call->inputs->ptr[i].f1;
    }
    return NULL;
}

/* The input `name` if it carries `tag`, else NULL (null optional input). */
static wv_value *typed(wv_call *call, const char *name, uint8_t tag) {
    wv_value *v = find(call, name);
    return v && v->tag == tag ? v : NULL;
}

bool wv_is_null(wv_call *call, const char *name) {
    wv_value *v = find(call, name);
    return !v || v->tag == WEAVELET_NODE_TYPES_VALUE_NULL;
}

bool wv_bool(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_BOOL);
    return v ? v->val.bool_ : false;
}

int64_t wv_int(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_INT);
    return v ? v->val.int_ : 0;
}

double wv_float(wv_call *call, const char *name) {
    wv_value *v = find(call, name);
    if (v && v->tag == WEAVELET_NODE_TYPES_VALUE_FLOAT) return v->val.float_;
    if (v && v->tag == WEAVELET_NODE_TYPES_VALUE_INT) return (double)v->val.int_;
    return 0.0;
}

wv_string wv_text_view(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_TEXT);
    return v ? v->val.text : (wv_string){(uint8_t *)"", 0};
}

const char *wv_text(wv_call *call, const char *name) {
    wv_string s = wv_text_view(call, name);
    return wv_cstr(call, &s);
}

const wv_value *wv_value_of(wv_call *call, const char *name) { return find(call, name); }

#define LIST_ACCESSOR(fn, type, tag, field)        \
    type fn(wv_call *call, const char *name) {     \
        wv_value *v = typed(call, name, tag);      \
        return v ? v->val.field : (type){NULL, 0}; \
    }
LIST_ACCESSOR(wv_bytes_of, wv_bytes, WEAVELET_NODE_TYPES_VALUE_BYTES, bytes)
LIST_ACCESSOR(wv_bools, wv_bool_list, WEAVELET_NODE_TYPES_VALUE_BOOL_LIST, bool_list)
LIST_ACCESSOR(wv_ints, wv_int_list, WEAVELET_NODE_TYPES_VALUE_INT_LIST, int_list)
LIST_ACCESSOR(wv_floats, wv_float_list, WEAVELET_NODE_TYPES_VALUE_FLOAT_LIST, float_list)
LIST_ACCESSOR(wv_texts, wv_text_list, WEAVELET_NODE_TYPES_VALUE_TEXT_LIST, text_list)
LIST_ACCESSOR(wv_images_of, wv_images, WEAVELET_NODE_TYPES_VALUE_IMAGES, images)

wv_table_ref wv_table(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_TABLE);
    return (wv_table_ref){v ? v->val.table.__handle : -1};
}
wv_svg_ref wv_svg(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_SVG);
    return (wv_svg_ref){v ? v->val.svg.__handle : -1};
}
wv_image_ref wv_image(wv_call *call, const char *name) {
    wv_value *v = typed(call, name, WEAVELET_NODE_TYPES_VALUE_IMAGE);
    return (wv_image_ref){v ? v->val.image.__handle : -1};
}

/* Move a handle out of the inputs (its slot becomes null). */
static int32_t take(wv_call *call, const char *name, uint8_t tag) {
    wv_value *v = typed(call, name, tag);
    if (!v) return -1;
    int32_t id = v->val.table.__handle;
    v->tag = WEAVELET_NODE_TYPES_VALUE_NULL;
    return id;
}
wv_table_t wv_take_table(wv_call *call, const char *name) {
    return (wv_table_t){take(call, name, WEAVELET_NODE_TYPES_VALUE_TABLE)};
}
wv_svg_t wv_take_svg(wv_call *call, const char *name) {
    return (wv_svg_t){take(call, name, WEAVELET_NODE_TYPES_VALUE_SVG)};
}
wv_image_t wv_take_image(wv_call *call, const char *name) {
    return (wv_image_t){take(call, name, WEAVELET_NODE_TYPES_VALUE_IMAGE)};
}

/* ---- Results ------------------------------------------------------------ */

static wv_status set_result(wv_call *call, wv_value v) {
    if (call->done) { /* a second result: keep the first, release this one */
        drop_value_handles(&v);
        weavelet_node_types_value_free(&v);
        return call->ok ? WV_OK : WV_ERROR;
    }
    call->done = true;
    call->ok = true;
    call->result = v;
    return WV_OK;
}

wv_status wv_return_value(wv_call *call, wv_value v) {
    if (!call->done) {
        if (v.tag == WEAVELET_NODE_TYPES_VALUE_TABLE || v.tag == WEAVELET_NODE_TYPES_VALUE_SVG ||
            v.tag == WEAVELET_NODE_TYPES_VALUE_IMAGE)
            release(call, v.tag, v.val.table.__handle);
        if (v.tag == WEAVELET_NODE_TYPES_VALUE_IMAGES)
            for (size_t i = 0; i < v.val.images.len; i++)
                release(call, WEAVELET_NODE_TYPES_VALUE_IMAGE, v.val.images.ptr[i].__handle);
    }
    return set_result(call, v);
}

wv_status wv_return_null(wv_call *call) {
    return set_result(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_NULL});
}
wv_status wv_return_bool(wv_call *call, bool b) {
    return set_result(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_BOOL, .val.bool_ = b});
}
wv_status wv_return_int(wv_call *call, int64_t i) {
    return set_result(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_INT, .val.int_ = i});
}
wv_status wv_return_float(wv_call *call, double f) {
    return set_result(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_FLOAT, .val.float_ = f});
}
wv_status wv_return_textn(wv_call *call, const char *text, size_t len) {
    return set_result(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_TEXT, .val.text = dup_n(text, len)});
}
wv_status wv_return_text(wv_call *call, const char *text) {
    return wv_return_textn(call, text ? text : "", text ? strlen(text) : 0);
}
wv_status wv_return_table(wv_call *call, wv_table_t t) {
    return wv_return_value(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_TABLE, .val.table = t});
}
wv_status wv_return_svg(wv_call *call, wv_svg_t s) {
    return wv_return_value(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_SVG, .val.svg = s});
}
wv_status wv_return_image(wv_call *call, wv_image_t i) {
    return wv_return_value(call, (wv_value){.tag = WEAVELET_NODE_TYPES_VALUE_IMAGE, .val.image = i});
}

static wv_status set_error(wv_call *call, uint8_t kind, const char *input, char *message) {
    if (call->done) {
        free(message);
        return call->ok ? WV_OK : WV_ERROR;
    }
    call->done = true;
    call->ok = false;
    call->error.kind = kind;
    call->error.message = dup(message);
    free(message);
    call->error.input.is_some = input != NULL;
    if (input) call->error.input.val = dup(input);
    return WV_ERROR;
}

wv_status wv_fail(wv_call *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    return set_error(call, WEAVELET_NODE_TYPES_ERROR_KIND_FAILED, NULL, m);
}

wv_status wv_invalid(wv_call *call, const char *input, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    return set_error(call, WEAVELET_NODE_TYPES_ERROR_KIND_INVALID_INPUT, input, m);
}

wv_string *wv__err_slot(wv_call *call) {
    module_string_free(&call->err);
    return &call->err;
}

wv_status wv__host_failed(wv_call *call, const char *what) {
    wv_status s = wv_fail(call, "%s: %.*s", what, (int)call->err.len, (const char *)call->err.ptr);
    module_string_free(&call->err);
    return s;
}

/* ---- Strings and arguments ---------------------------------------------- */

wv_string *wv_str(wv_call *call, const char *s) {
    wv_string *out = wv_alloc(call, sizeof *out);
    module_string_set(out, s ? s : "");
    return out;
}

/* How many strings come before the NULL that ends a list of arguments. */
static size_t count_until_null(va_list ap) {
    va_list counting;
    va_copy(counting, ap);
    size_t n = 0;
    while (va_arg(counting, const char *))
        n++;
    va_end(counting);
    return n;
}

wv_strings *wv_strs(wv_call *call, ...) {
    va_list ap;
    va_start(ap, call);
    size_t n = count_until_null(ap);
    wv_strings *out = wv_alloc(call, sizeof *out);
    out->ptr = wv_alloc(call, n * sizeof(wv_string));
    out->len = n;
    for (size_t i = 0; i < n; i++)
        module_string_set(&out->ptr[i], va_arg(ap, const char *));
    va_end(ap);
    return out;
}

wv_pairs *wv_attrs(wv_call *call, ...) {
    va_list ap;
    va_start(ap, call);
    size_t n = count_until_null(ap);
    wv_pairs *out = wv_alloc(call, sizeof *out);
    out->len = n / 2; /* an odd trailing key is ignored */
    out->ptr = wv_alloc(call, out->len * sizeof(module_tuple2_string_string_t));
    for (size_t i = 0; i < out->len; i++) {
        module_string_set(&out->ptr[i].f0, va_arg(ap, const char *));
        module_string_set(&out->ptr[i].f1, va_arg(ap, const char *));
    }
    va_end(ap);
    return out;
}

char *wv_format(wv_call *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(fmt, ap);
    va_end(ap);
    if (call->arena_len == call->arena_cap) call->arena = grow(call->arena, &call->arena_cap, sizeof(void *));
    call->arena[call->arena_len++] = s;
    return s;
}

char *wv_cstr(wv_call *call, const wv_string *s) {
    char *out = wv_alloc(call, s->len + 1);
    memcpy(out, s->ptr, s->len);
    out[s->len] = '\0';
    return out;
}

/* Shortest digits that read back as x (via %.*e and strtod), then written
 * out by hand in fixed notation so no locale or exponent can sneak in. */
const char *wv_float_literal(wv_call *call, double x) {
    if (!isfinite(x)) return NULL;
    char sci[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, x);
        if (strtod(sci, NULL) == x) break;
    }
    /* sci = [-]d[.ddd]e[+-]XX: collect sign, digits and exponent. */
    const char *p = sci;
    bool neg = *p == '-';
    if (neg) p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits) digits[nd++] = *p;
    int exp10 = (*p == 'e' || *p == 'E') ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--; /* trailing zeros */
    /* value = 0.d1d2... * 10^(exp10 + 1): `point` digits before the '.'. */
    int point = exp10 + 1;
    size_t cap = nd + (size_t)(point < 0 ? -point : point) + 8;
    char *out = wv_alloc(call, cap), *o = out;
    if (neg) *o++ = '-';
    if (point <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -point; i++)
            *o++ = '0';
        memcpy(o, digits, nd);
        o += nd;
    } else if ((size_t)point >= nd) {
        memcpy(o, digits, nd);
        o += nd;
        for (size_t i = nd; i < (size_t)point; i++)
            *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else {
        memcpy(o, digits, (size_t)point);
        o += point;
        *o++ = '.';
        memcpy(o, digits + point, nd - (size_t)point);
        o += nd - (size_t)point;
    }
    *o = '\0';
    return out;
}

/* ---- Host services ------------------------------------------------------- */

void wv_log(weavelet_node_host_log_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    wv_string s;
    module_string_set(&s, m);
    weavelet_node_host_log(level, &s);
    free(m);
}

void wv_progress(uint64_t done, uint64_t total, const char *message) {
    wv_string s;
    module_string_set(&s, message ? message : "");
    weavelet_node_host_progress(done, total, &s);
}

/* ---- Export `run` ------------------------------------------------------- */

/* Check the inputs against the declaration; false with an error recorded. */
static bool check_inputs(wv_call *call) {
    const wv_node *n = call->node;
    for (size_t j = 0; n->inputs && n->inputs[j].name; j++) {
        const wv_input *in = &n->inputs[j];
        wv_value *v = find(call, in->name);
        if (!v || v->tag == WEAVELET_NODE_TYPES_VALUE_NULL) {
            if (in->optional || in->type == WV_ANY || in->type == WV_NULL) continue;
            wv_invalid(call, in->name, v ? "expected %s, got null" : "the host did not pass this input",
                       decl_type_name(in->type));
            return false;
        }
        int want = value_tag_of(in->type);
        if (want < 0 || v->tag == want) continue;
        if (in->type == WV_FLOAT && v->tag == WEAVELET_NODE_TYPES_VALUE_INT) continue;
        wv_invalid(call, in->name, "expected %s, got %s", decl_type_name(in->type), type_name(v->tag));
        return false;
    }
    return true;
}

bool exports_weavelet_node_node_run(module_string_t *name, inputs_t *inputs, wv_value *ret,
                                    node_error_t *err) {
    wv_call call = {.inputs = inputs};
    for (size_t i = 0; wv_module_nodes[i]; i++) {
        if (str_eq(name, node_name(wv_module_nodes[i]))) call.node = wv_module_nodes[i];
    }

    if (!call.node) {
        char *m = xmalloc(name->len + 40);
        snprintf(m, name->len + 40, "this component has no node `%.*s`", (int)name->len,
                 (const char *)name->ptr);
        set_error(&call, WEAVELET_NODE_TYPES_ERROR_KIND_UNKNOWN_NODE, NULL, m);
    } else if (check_inputs(&call)) {
        wv_status s = call.node->run(&call);
        if (!call.done) {
            if (s == WV_OK && call.node->output == WV_NULL)
                wv_return_null(&call);
            else if (s == WV_OK)
                wv_fail(&call, "the node returned WV_OK without a value (use wv_return_*)");
            else
                wv_fail(&call, "the node failed without a message");
        }
    }

    /* Drop what the node did not give back, free what we own. */
    for (size_t i = 0; i < call.kept_len; i++)
        drop_handle(call.kept[i].tag, call.kept[i].id);
    for (size_t i = 0; i < inputs->len; i++)
        drop_value_handles(&inputs->ptr[i].f1);
    exports_weavelet_node_node_list_tuple2_string_value_free(inputs);
    module_string_free(name);
    module_string_free(&call.err);
    for (size_t i = 0; i < call.arena_len; i++)
        free(call.arena[i]);
    free(call.arena);
    free(call.kept);

    if (call.ok)
        *ret = call.result;
    else
        *err = call.error;
    return call.ok;
}
