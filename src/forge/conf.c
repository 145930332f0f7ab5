/* liqolet: the ConfigMap and Secret forge (pure; see include/liqolet/forge_conf.h).
 * C standard headers and liqolet headers only.
 *
 * Two layers over one pass of the input bytes:
 *   - a strict JSON lexer (states S_*), with a bitmap stack of at most 64 containers, that
 *     decodes member names and the few values we read (escapes, surrogate pairs) into
 *     small fixed buffers;
 *   - the transform, driven by four hooks (value_begin, value_end, container_end, key_end)
 *     and by the depth: 1 = top-level members, 2 = metadata members (or data entries),
 *     3 = label / annotation entries. Copied values are not buffered: a "span" marks
 *     input bytes that go to the output as they are, flushed at the end of each piece. */
#include "liqolet/forge_conf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "liqolet/ascii.h"
#include "liqolet/liqo.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

/* Lexer states (st_). */
enum {
    S_VALUE,  /* a value expected */
    S_ARR0,   /* after '[': a value or ']' */
    S_OBJ0,   /* after '{': a member name or '}' */
    S_KEY,    /* after ',' in an object: a member name */
    S_COLON,  /* after a member name */
    S_AFTER,  /* after a value inside a container: ',' or the closing bracket */
    S_STR,    /* inside a string */
    S_ESC,    /* after '\' */
    S_HEX,    /* inside \uXXXX (nst_ digits read) */
    S_SUR_BS, /* after a high surrogate: '\' expected */
    S_SUR_U,  /* then 'u' */
    S_NUM,    /* inside a number (nst_ = N_*) */
    S_LIT,    /* inside true / false / null (nst_ = characters matched) */
    S_DONE,   /* the top-level object has ended: whitespace only */
};

/* Number sub-states. */
enum { N_MINUS, N_ZERO, N_INT, N_FRAC0, N_FRAC, N_EXP0, N_EXPS, N_EXP };

/* What the current string is captured into (cap_). */
enum { C_NONE, C_KEY, C_KEYRAW, C_UID, C_RV, C_TYPE, C_FALSE };

/* Member names we look for (key_). */
enum {
    K_OTHER, K_METADATA, K_DATA, K_BINARY, K_IMMUTABLE, K_TYPE, K_LABELS, K_ANNOTATIONS,
    K_UID, K_RV, K_DELETION, K_OWN, K_HOMEUID, K_SKIP, K_ALLOW,
};

/* Role of the current top-level member's value (top_). */
enum { T_DROP, T_META, T_COPY };
/* Role of the current metadata member's value (meta_). */
enum { M_DROP, M_LABELS, M_ANN, M_UID, M_RV, M_DEL };
/* The current label / annotation entry (ent_). */
enum { E_DROP, E_KEEP, E_SKIP, E_ALLOW };

/* Members already written (done_). */
#define D_META   0x01u
#define D_LABELS 0x02u
#define D_ANN    0x04u
#define D_DATA   0x08u
#define D_BIN    0x10u
#define D_IMM    0x20u
#define D_TYPE   0x40u

static const struct {
    const char *name;
    uint8_t id;
} g_names[] = {
    {"metadata", K_METADATA},
    {"data", K_DATA},
    {"binaryData", K_BINARY},
    {"immutable", K_IMMUTABLE},
    {"type", K_TYPE},
    {"labels", K_LABELS},
    {"annotations", K_ANNOTATIONS},
    {"uid", K_UID},
    {"resourceVersion", K_RV},
    {"deletionTimestamp", K_DELETION},
    /* ownership labels of both families (lq_liqo_is_own_label): never copied from home */
    {LQ_LIQO_V08_LABEL_ORIGIN, K_OWN},
    {LQ_LIQO_V08_LABEL_DESTINATION, K_OWN},
    {LQ_LIQO_V1_LABEL_ORIGIN, K_OWN},
    {LQ_LIQO_V1_LABEL_DESTINATION, K_OWN},
    {LQ_LIQO_V1_LABEL_NODENAME, K_OWN},
    {LQ_FORGE_CONF_ANN_HOME_UID, K_HOMEUID},
    {LQ_FORGE_CONF_ANN_SKIP, K_SKIP},
    {LQ_FORGE_CONF_ANN_ALLOW, K_ALLOW},
};

/* The longest name we look for (the v1 names are shorter than the v0.8 ones). */
#define LONGEST_NAME LQ_LIQO_V08_LABEL_DESTINATION
_Static_assert(sizeof LONGEST_NAME >= sizeof LQ_LIQO_V1_LABEL_DESTINATION &&
                   sizeof LONGEST_NAME >= sizeof LQ_LIQO_V1_LABEL_NODENAME &&
                   sizeof LONGEST_NAME >= sizeof LQ_FORGE_CONF_ANN_HOME_UID &&
                   sizeof LONGEST_NAME >= sizeof LQ_FORGE_CONF_ANN_SKIP &&
                   sizeof LONGEST_NAME >= sizeof LQ_FORGE_CONF_ANN_ALLOW,
               "LONGEST_NAME is the longest name of g_names");
_Static_assert(LQ_FORGE_CONF_KEY_DEC > sizeof LONGEST_NAME,
               "the decoded name buffer holds every name we look for");
_Static_assert(LQ_FORGE_CONF_KEY_RAW >= 6u * (sizeof LONGEST_NAME - 1u),
               "a raw key longer than the buffer cannot decode to one of our names");
_Static_assert(LQ_FORGE_CONF_DEPTH_MAX <= 64u, "the container stack is a 64-bit map");
_Static_assert(LQ_FORGE_CONF_KEY_RAW <= UINT16_MAX && LQ_FORGE_CONF_KEY_DEC <= UINT8_MAX &&
                   LQ_FORGE_CONF_TYPE_MAX <= UINT8_MAX + 1u && LQ_FORGE_CONF_UID_BUF <= UINT8_MAX,
               "lengths fit their counters");

/* ---- output ------------------------------------------------------------------------ */

static void fail(lq_forge_conf_t *f, lq_err_t e)
{
    if (f->err_ == LQ_OK)
        f->err_ = e;
}

static void emit(lq_forge_conf_t *f, const char *p, size_t n)
{
    if (f->err_ != LQ_OK || n == 0)
        return;
    uint64_t h = f->hash;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    f->hash = h;
    f->out += n;
    if (f->fn_) {
        lq_err_t e = f->fn_(f->ctx_, p, n);
        if (e != LQ_OK)
            fail(f, e);
    }
}

static void emit_s(lq_forge_conf_t *f, const char *s)
{
    emit(f, s, strlen(s));
}

/* s as a JSON string. */
static void emit_q(lq_forge_conf_t *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    emit(f, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        emit(f, run, (size_t)(s - run));
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15u];
            n = 6;
        }
        emit(f, esc, n);
        run = s + 1;
    }
    emit(f, run, (size_t)(s - run));
    emit(f, "\"", 1);
}

/* Spans: input bytes in[sps_ .. i] copied to the output as they are. */
static void span_start(lq_forge_conf_t *f, size_t i)
{
    f->span_ = true;
    f->span_d_ = f->depth_;
    f->sps_ = i;
}

static void span_end(lq_forge_conf_t *f, size_t i)
{
    f->span_ = false;
    emit(f, f->in_ + f->sps_, i + 1 - f->sps_);
}

/* ---- the object written ------------------------------------------------------------ */

static void meta_open(lq_forge_conf_t *f)
{
    emit_s(f, ",\"metadata\":{\"name\":");
    emit_q(f, f->p_->remote_name);
    emit_s(f, ",\"namespace\":");
    emit_q(f, f->p_->remote_ns);
    if (f->p_->remote_uid && f->p_->remote_uid[0]) {
        /* a precondition, not content: left out of the hash, so the same intent hashes
         * the same before and after the remote object exists */
        uint64_t h = f->hash;
        emit_s(f, ",\"uid\":");
        emit_q(f, f->p_->remote_uid);
        f->hash = h;
    }
}

/* The ownership labels of the family in use (names without anything to escape). */
static void labels_close(lq_forge_conf_t *f, bool first)
{
    const lq_liqo_names_t *nm = lq_liqo_names();
    emit_s(f, first ? "\"" : ",\"");
    emit_s(f, nm->origin);
    emit_s(f, "\":");
    emit_q(f, f->p_->home_id);
    emit_s(f, ",\"");
    emit_s(f, nm->destination);
    emit_s(f, "\":");
    emit_q(f, f->p_->foreign_id);
    emit(f, "}", 1);
}

static void ann_close(lq_forge_conf_t *f, bool first)
{
    emit_s(f, first ? "\"" LQ_FORGE_CONF_ANN_HOME_UID "\":" : ",\"" LQ_FORGE_CONF_ANN_HOME_UID "\":");
    emit_q(f, f->p_->home_uid);
    emit(f, "}", 1);
}

static void meta_close(lq_forge_conf_t *f)
{
    if (!(f->done_ & D_LABELS)) {
        emit_s(f, ",\"labels\":{");
        labels_close(f, true);
    }
    if (!(f->done_ & D_ANN)) {
        emit_s(f, ",\"annotations\":{");
        ann_close(f, true);
    }
    emit(f, "}", 1);
    f->done_ |= D_META | D_LABELS | D_ANN;
    f->meta_done = true;
}

static bool in_meta(const lq_forge_conf_t *f)
{
    return f->top_ == T_META;
}

static bool in_entries(const lq_forge_conf_t *f)
{
    return f->top_ == T_META && (f->meta_ == M_LABELS || f->meta_ == M_ANN);
}

/* The first byte c (at in[i]) of a value in the container at depth_. */
static void value_begin(lq_forge_conf_t *f, char c, size_t i)
{
    bool null = c == 'n';
    switch (f->depth_) {
    case 0:
        if (c != '{')
            return fail(f, LQ_EPROTO);
        emit_s(f, f->p_->kind == LQ_FORGE_CONF_SECRET ? "{\"apiVersion\":\"v1\",\"kind\":\"Secret\""
                                                      : "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"");
        return;
    case 1:
        if (f->top_ == T_DROP)
            return;
        if (null) {
            f->top_ = T_DROP;
            return;
        }
        if (f->top_ == T_META) {
            if (c != '{')
                return fail(f, LQ_EPROTO);
            f->done_ |= D_META;
            meta_open(f);
            return;
        }
        /* T_COPY: data, binaryData, immutable or type, by key_ */
        if ((f->key_ == K_IMMUTABLE && c != 't' && c != 'f') ||
            (f->key_ == K_TYPE && c != '"') ||
            ((f->key_ == K_DATA || f->key_ == K_BINARY) && c != '{'))
            return fail(f, LQ_EPROTO);
        switch (f->key_) {
        case K_DATA: f->done_ |= D_DATA; emit_s(f, ",\"data\":"); break;
        case K_BINARY: f->done_ |= D_BIN; emit_s(f, ",\"binaryData\":"); break;
        case K_IMMUTABLE: f->done_ |= D_IMM; emit_s(f, ",\"immutable\":"); break;
        default:
            f->done_ |= D_TYPE;
            emit_s(f, ",\"type\":");
            f->cap_ = C_TYPE;
            f->cap_len_ = 0;
            f->facts.type[0] = '\0';
            f->facts.type_long = false;
        }
        span_start(f, i);
        return;
    case 2:
        if (f->top_ == T_COPY) {
            if (c != '"') /* a data / binaryData value */
                return fail(f, LQ_EPROTO);
            return;
        }
        if (!in_meta(f))
            return;
        switch (f->meta_) {
        case M_LABELS:
        case M_ANN:
            if (null) {
                f->meta_ = M_DROP;
                return;
            }
            if (c != '{')
                return fail(f, LQ_EPROTO);
            f->done_ |= f->meta_ == M_LABELS ? D_LABELS : D_ANN;
            emit_s(f, f->meta_ == M_LABELS ? ",\"labels\":{" : ",\"annotations\":{");
            f->first_ = true;
            return;
        case M_UID:
        case M_RV: {
            char *dst = f->meta_ == M_UID ? f->facts.uid : f->facts.rv;
            dst[0] = '\0';
            if (null)
                return;
            if (c != '"')
                return fail(f, LQ_EPROTO);
            f->cap_ = f->meta_ == M_UID ? C_UID : C_RV;
            f->cap_len_ = 0;
            return;
        }
        case M_DEL:
            f->facts.deleting = !null;
            return;
        default:
            return;
        }
    case 3:
        if (!in_entries(f))
            return;
        if (c != '"')
            return fail(f, LQ_EPROTO);
        if (f->ent_ == E_DROP)
            return;
        if (f->ent_ != E_KEEP) {
            f->cap_ = C_FALSE;
            f->cap_len_ = 0;
            f->false_ok_ = true;
        }
        span_start(f, i);
        return;
    default:
        return;
    }
}

/* A string, number or literal has ended at in[i] (its last byte; for numbers the byte
 * after it, which is not part of the value and not copied). */
static void value_end(lq_forge_conf_t *f, size_t i)
{
    switch (f->cap_) {
    case C_UID: f->facts.uid[f->cap_len_] = '\0'; break;
    case C_RV: f->facts.rv[f->cap_len_] = '\0'; break;
    case C_TYPE:
        if (!f->facts.type_long)
            f->facts.type[f->cap_len_] = '\0';
        break;
    case C_FALSE: {
        bool exact = f->false_ok_ && f->cap_len_ == 5u;
        if (f->ent_ == E_SKIP)
            f->facts.skip_false = exact;
        else
            f->facts.allow_false = exact;
        break;
    }
    default: break;
    }
    f->cap_ = C_NONE;
    if (f->span_ && f->span_d_ == f->depth_)
        span_end(f, i);
}

/* The container closed by in[i] has ended; depth_ is already the outer one. */
static void container_end(lq_forge_conf_t *f, size_t i)
{
    if (f->span_ && f->span_d_ == f->depth_) {
        span_end(f, i); /* data / binaryData */
        f->top_ = T_DROP;
        return;
    }
    switch (f->depth_) {
    case 0:
        if (!(f->done_ & D_META)) {
            meta_open(f);
            meta_close(f);
        }
        emit(f, "}", 1);
        f->meta_done = true;
        return;
    case 1:
        if (in_meta(f)) {
            meta_close(f);
            f->top_ = T_DROP;
        }
        return;
    case 2:
        if (in_entries(f)) {
            if (f->meta_ == M_LABELS)
                labels_close(f, f->first_);
            else
                ann_close(f, f->first_);
            f->meta_ = M_DROP;
        }
        return;
    default:
        return;
    }
}

static uint8_t name_id(const lq_forge_conf_t *f)
{
    if (f->dec_long_)
        return K_OTHER;
    for (size_t k = 0; k < sizeof g_names / sizeof g_names[0]; k++) {
        size_t n = strlen(g_names[k].name);
        if (n == f->dec_len_ && memcmp(g_names[k].name, f->dec_, n) == 0)
            return g_names[k].id;
    }
    return K_OTHER;
}

/* Writes the separator before a label / annotation entry. */
static void entry_sep(lq_forge_conf_t *f)
{
    if (!f->first_)
        emit(f, ",", 1);
    f->first_ = false;
}

/* A member name has ended at in[i] (its closing quote). */
static void key_end(lq_forge_conf_t *f, size_t i)
{
    uint8_t cap = f->cap_;
    f->cap_ = C_NONE;
    if (cap == C_NONE)
        return;
    if (f->span_) { /* a long label / annotation key, written as it went */
        span_end(f, i);
        emit(f, ":", 1);
        f->ent_ = E_KEEP;
        return;
    }
    uint8_t id = name_id(f);
    bool secret = f->p_->kind == LQ_FORGE_CONF_SECRET;
    if (f->depth_ == 1) {
        f->key_ = id;
        f->top_ = T_DROP;
        if (id == K_METADATA && !(f->done_ & D_META))
            f->top_ = T_META;
        else if ((id == K_DATA && !(f->done_ & D_DATA)) ||
                 (id == K_BINARY && !secret && !(f->done_ & D_BIN)) ||
                 (id == K_IMMUTABLE && !(f->done_ & D_IMM)) ||
                 (id == K_TYPE && secret && !(f->done_ & D_TYPE)))
            f->top_ = T_COPY;
        return;
    }
    if (f->depth_ == 2) { /* metadata */
        switch (id) {
        case K_LABELS: f->meta_ = (f->done_ & D_LABELS) ? M_DROP : M_LABELS; break;
        case K_ANNOTATIONS: f->meta_ = (f->done_ & D_ANN) ? M_DROP : M_ANN; break;
        case K_UID: f->meta_ = M_UID; break;
        case K_RV: f->meta_ = M_RV; break;
        case K_DELETION: f->meta_ = M_DEL; break;
        default: f->meta_ = M_DROP;
        }
        return;
    }
    /* depth 3: a label or annotation */
    f->ent_ = E_KEEP;
    if (f->meta_ == M_LABELS) {
        if (id == K_OWN)
            f->ent_ = E_DROP;
    } else if (id == K_HOMEUID) {
        f->ent_ = E_DROP;
    } else if (id == K_SKIP) {
        f->ent_ = E_SKIP;
        f->facts.skip = true;
    } else if (id == K_ALLOW) {
        f->ent_ = E_ALLOW;
        f->facts.allow = true;
    }
    if (f->ent_ == E_DROP)
        return;
    entry_sep(f);
    emit(f, "\"", 1);
    emit(f, f->raw_, f->raw_len_);
    emit(f, "\":", 2);
}

/* A member name starts (its opening quote is read). */
static void key_begin(lq_forge_conf_t *f)
{
    f->str_key_ = true;
    f->raw_len_ = 0;
    f->dec_len_ = 0;
    f->raw_long_ = f->dec_long_ = false;
    if (f->depth_ == 1 || (f->depth_ == 2 && in_meta(f)))
        f->cap_ = C_KEY;
    else if (f->depth_ == 3 && in_entries(f))
        f->cap_ = C_KEYRAW;
    else
        f->cap_ = C_NONE;
}

/* One decoded byte of the current string. */
static void cap_byte(lq_forge_conf_t *f, unsigned char b)
{
    switch (f->cap_) {
    case C_KEY:
    case C_KEYRAW:
        if (f->dec_len_ < LQ_FORGE_CONF_KEY_DEC)
            f->dec_[f->dec_len_++] = (char)b;
        else
            f->dec_long_ = true;
        return;
    case C_UID:
    case C_RV: {
        size_t cap = f->cap_ == C_UID ? LQ_FORGE_CONF_UID_BUF : LQ_FORGE_CONF_RV_BUF;
        char *dst = f->cap_ == C_UID ? f->facts.uid : f->facts.rv;
        if (b == 0 || f->cap_len_ + 1u >= cap) {
            dst[0] = '\0';
            return fail(f, LQ_EPROTO);
        }
        dst[f->cap_len_++] = (char)b;
        return;
    }
    case C_TYPE:
        if (b == 0) {
            f->facts.type[0] = '\0';
            return fail(f, LQ_EPROTO);
        }
        if (f->facts.type_long)
            return;
        if (f->cap_len_ + 1u >= LQ_FORGE_CONF_TYPE_MAX) {
            f->facts.type_long = true;
            f->facts.type[0] = '\0';
            return;
        }
        f->facts.type[f->cap_len_++] = (char)b;
        return;
    case C_FALSE:
        if (f->false_ok_ && f->cap_len_ < 5u && "false"[f->cap_len_] == (char)b)
            f->cap_len_++;
        else
            f->false_ok_ = false;
        return;
    default:
        return;
    }
}

/* A decoded code point (from an escape) as UTF-8. */
static void cap_cp(lq_forge_conf_t *f, uint32_t cp)
{
    if (cp < 0x80u) {
        cap_byte(f, (unsigned char)cp);
    } else if (cp < 0x800u) {
        cap_byte(f, (unsigned char)(0xC0u | (cp >> 6)));
        cap_byte(f, (unsigned char)(0x80u | (cp & 0x3Fu)));
    } else if (cp < 0x10000u) {
        cap_byte(f, (unsigned char)(0xE0u | (cp >> 12)));
        cap_byte(f, (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu)));
        cap_byte(f, (unsigned char)(0x80u | (cp & 0x3Fu)));
    } else {
        cap_byte(f, (unsigned char)(0xF0u | (cp >> 18)));
        cap_byte(f, (unsigned char)(0x80u | ((cp >> 12) & 0x3Fu)));
        cap_byte(f, (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu)));
        cap_byte(f, (unsigned char)(0x80u | (cp & 0x3Fu)));
    }
}

/* One raw byte (in[i]) of a label / annotation key, kept until the key has ended. */
static void raw_byte(lq_forge_conf_t *f, char c, size_t i)
{
    if (f->raw_len_ < LQ_FORGE_CONF_KEY_RAW) {
        f->raw_[f->raw_len_++] = c;
        return;
    }
    /* Too long to be one of ours: write what we have, the rest goes as it comes. */
    f->raw_long_ = true;
    entry_sep(f);
    emit(f, "\"", 1);
    emit(f, f->raw_, f->raw_len_);
    span_start(f, i);
}

/* ---- the lexer ----------------------------------------------------------------------- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void after_value(lq_forge_conf_t *f)
{
    f->st_ = f->depth_ == 0 ? S_DONE : S_AFTER;
}

/* A value starts with c at in[i] (S_VALUE or S_ARR0). */
static void value_start(lq_forge_conf_t *f, char c, size_t i)
{
    if (!(c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' ||
          is_digit(c)))
        return fail(f, LQ_EPROTO);
    value_begin(f, c, i);
    if (f->err_ != LQ_OK)
        return;
    switch (c) {
    case '{':
    case '[':
        if (f->depth_ >= LQ_FORGE_CONF_DEPTH_MAX)
            return fail(f, LQ_EPROTO);
        if (c == '[')
            f->arr_ |= (uint64_t)1 << f->depth_;
        else
            f->arr_ &= ~((uint64_t)1 << f->depth_);
        f->depth_++;
        f->st_ = c == '{' ? S_OBJ0 : S_ARR0;
        return;
    case '"':
        f->str_key_ = false;
        f->st_ = S_STR;
        return;
    case 't':
    case 'f':
    case 'n':
        f->lit_ = (uint8_t)c;
        f->nst_ = 1;
        f->st_ = S_LIT;
        return;
    default:
        f->nst_ = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
        f->st_ = S_NUM;
        return;
    }
}

static void close_container(lq_forge_conf_t *f, char c, size_t i)
{
    bool arr = (f->arr_ >> (f->depth_ - 1u)) & 1u;
    if (arr != (c == ']'))
        return fail(f, LQ_EPROTO);
    f->depth_--;
    container_end(f, i);
    after_value(f);
}

static void string_end(lq_forge_conf_t *f, size_t i)
{
    if (f->str_key_) {
        f->str_key_ = false;
        key_end(f, i);
        f->st_ = S_COLON;
    } else {
        value_end(f, i);
        after_value(f);
    }
}

/* Next number sub-state for c, or -1 when c does not continue the number. */
static int num_next(uint8_t st, char c)
{
    bool d = is_digit(c);
    switch (st) {
    case N_MINUS: return c == '0' ? N_ZERO : d ? N_INT : -1;
    case N_ZERO: return c == '.' ? N_FRAC0 : (c == 'e' || c == 'E') ? N_EXP0 : -1;
    case N_INT: return d ? N_INT : c == '.' ? N_FRAC0 : (c == 'e' || c == 'E') ? N_EXP0 : -1;
    case N_FRAC0: return d ? N_FRAC : -1;
    case N_FRAC: return d ? N_FRAC : (c == 'e' || c == 'E') ? N_EXP0 : -1;
    case N_EXP0: return d ? N_EXP : (c == '+' || c == '-') ? N_EXPS : -1;
    case N_EXPS: return d ? N_EXP : -1;
    default: return d ? N_EXP : -1;
    }
}

/* Processes in[i]; returns false when the byte must be looked at again (end of a number). */
static bool step(lq_forge_conf_t *f, char c, size_t i)
{
    bool raw = f->cap_ == C_KEYRAW && !f->raw_long_;
    switch (f->st_) {
    case S_VALUE:
    case S_ARR0:
        if (is_ws(c))
            return true;
        if (c == ']' && f->st_ == S_ARR0)
            close_container(f, c, i);
        else
            value_start(f, c, i);
        return true;
    case S_OBJ0:
    case S_KEY:
        if (is_ws(c))
            return true;
        if (c == '"') {
            key_begin(f);
            f->st_ = S_STR;
        } else if (c == '}' && f->st_ == S_OBJ0) {
            close_container(f, c, i);
        } else {
            fail(f, LQ_EPROTO);
        }
        return true;
    case S_COLON:
        if (c == ':')
            f->st_ = S_VALUE;
        else if (!is_ws(c))
            fail(f, LQ_EPROTO);
        return true;
    case S_AFTER:
        if (is_ws(c))
            return true;
        if (c == ',')
            f->st_ = ((f->arr_ >> (f->depth_ - 1u)) & 1u) ? S_VALUE : S_KEY;
        else if (c == '}' || c == ']')
            close_container(f, c, i);
        else
            fail(f, LQ_EPROTO);
        return true;
    case S_STR:
        if (c == '"') {
            string_end(f, i);
            return true;
        }
        if ((unsigned char)c < 0x20u)
            return fail(f, LQ_EPROTO), true;
        if (raw)
            raw_byte(f, c, i);
        if (c == '\\')
            f->st_ = S_ESC;
        else
            cap_byte(f, (unsigned char)c);
        return true;
    case S_ESC: {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        if (raw)
            raw_byte(f, c, i);
        const char *e = c ? strchr(from, c) : NULL;
        if (c == 'u') {
            f->st_ = S_HEX;
            f->nst_ = 0;
            f->acc_ = 0;
        } else if (e) {
            cap_byte(f, (unsigned char)to[e - from]);
            f->st_ = S_STR;
        } else {
            fail(f, LQ_EPROTO);
        }
        return true;
    }
    case S_HEX: {
        int v = lq_ascii_hex((unsigned char)c);
        if (v < 0)
            return fail(f, LQ_EPROTO), true;
        if (raw)
            raw_byte(f, c, i);
        f->acc_ = (f->acc_ << 4) | (uint32_t)v;
        if (++f->nst_ < 4u)
            return true;
        uint32_t u = f->acc_;
        bool high = u >= 0xD800u && u <= 0xDBFFu, low = u >= 0xDC00u && u <= 0xDFFFu;
        f->st_ = S_STR;
        if (f->hi_) {
            if (!low)
                return fail(f, LQ_EPROTO), true;
            cap_cp(f, 0x10000u + ((f->hi_ - 0xD800u) << 10) + (u - 0xDC00u));
            f->hi_ = 0;
        } else if (high) {
            f->hi_ = u;
            f->st_ = S_SUR_BS;
        } else if (low) {
            fail(f, LQ_EPROTO);
        } else {
            cap_cp(f, u);
        }
        return true;
    }
    case S_SUR_BS:
    case S_SUR_U:
        if (c != (f->st_ == S_SUR_BS ? '\\' : 'u'))
            return fail(f, LQ_EPROTO), true;
        if (raw)
            raw_byte(f, c, i);
        if (f->st_ == S_SUR_BS) {
            f->st_ = S_SUR_U;
        } else {
            f->st_ = S_HEX;
            f->nst_ = 0;
            f->acc_ = 0;
        }
        return true;
    case S_NUM: {
        int next = num_next(f->nst_, c);
        if (next >= 0) {
            f->nst_ = (uint8_t)next;
            return true;
        }
        if (f->nst_ == N_MINUS || f->nst_ == N_FRAC0 || f->nst_ == N_EXP0 || f->nst_ == N_EXPS)
            return fail(f, LQ_EPROTO), true;
        value_end(f, i);
        after_value(f);
        return false;
    }
    case S_LIT: {
        const char *lit = f->lit_ == 't' ? "true" : f->lit_ == 'f' ? "false" : "null";
        if (c != lit[f->nst_])
            return fail(f, LQ_EPROTO), true;
        if (lit[++f->nst_] == '\0') {
            value_end(f, i);
            after_value(f);
        }
        return true;
    }
    default: /* S_DONE */
        if (!is_ws(c))
            fail(f, LQ_EPROTO);
        return true;
    }
}

/* ---- public ------------------------------------------------------------------------ */

static bool nonempty(const char *s)
{
    return s && s[0];
}

void lq_forge_conf_begin(lq_forge_conf_t *f, const lq_forge_conf_params_t *p,
                         lq_forge_conf_out_fn *out, void *ctx)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->hash = FNV_OFFSET;
    f->p_ = p;
    f->fn_ = out;
    f->ctx_ = ctx;
    f->st_ = S_VALUE;
    if (!p || (p->kind != LQ_FORGE_CONF_CONFIGMAP && p->kind != LQ_FORGE_CONF_SECRET) ||
        !nonempty(p->remote_name) || !nonempty(p->remote_ns) || !nonempty(p->home_id) ||
        !nonempty(p->foreign_id) || !nonempty(p->home_uid))
        f->err_ = LQ_EINVAL;
}

lq_err_t lq_forge_conf_feed(lq_forge_conf_t *f, const char *in, size_t n)
{
    if (!f)
        return LQ_EINVAL;
    if (f->err_ != LQ_OK)
        return f->err_;
    if (f->ended_)
        return LQ_ESTATE;
    if (!in && n > 0)
        return f->err_ = LQ_EINVAL;
    f->in += n;
    f->in_ = in;
    f->sps_ = 0;
    size_t i = 0;
    while (i < n) {
        /* fast path: the inside of a string nobody reads (most of a data value) */
        if (f->st_ == S_STR && f->cap_ == C_NONE) {
            while (i < n && in[i] != '"' && in[i] != '\\' && (unsigned char)in[i] >= 0x20u)
                i++;
            if (i == n)
                break;
        }
        if (step(f, in[i], i))
            i++;
        if (f->err_ != LQ_OK)
            break;
    }
    if (f->err_ == LQ_OK && f->span_ && n > 0)
        emit(f, in + f->sps_, n - f->sps_);
    f->in_ = NULL;
    return f->err_;
}

lq_err_t lq_forge_conf_end(lq_forge_conf_t *f)
{
    if (!f)
        return LQ_EINVAL;
    if (f->err_ != LQ_OK)
        return f->err_;
    if (f->st_ != S_DONE)
        return f->err_ = LQ_EPROTO;
    f->ended_ = true;
    return LQ_OK;
}

typedef struct sink {
    char *buf;
    size_t cap, len;
} sink_t;

static lq_err_t sink_write(void *ctx, const char *p, size_t n)
{
    sink_t *s = ctx;
    if (n > s->cap - s->len)
        return LQ_ETOOBIG;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return LQ_OK;
}

lq_err_t lq_forge_conf_build(const lq_forge_conf_params_t *p, const char *in, size_t n,
                             char *out, size_t cap, size_t *len, lq_forge_conf_facts_t *facts,
                             uint64_t *hash)
{
    if (!p || !len || (!out && cap > 0) || (!in && n > 0))
        return LQ_EINVAL;
    sink_t s = {out, cap, 0};
    lq_forge_conf_t f;
    lq_forge_conf_begin(&f, p, sink_write, &s);
    lq_err_t e = lq_forge_conf_feed(&f, in, n);
    if (e == LQ_OK)
        e = lq_forge_conf_end(&f);
    if (e != LQ_OK)
        return e;
    *len = s.len;
    if (facts)
        *facts = f.facts;
    if (hash)
        *hash = f.hash;
    return LQ_OK;
}

/* ---- names ----------------------------------------------------------------------- */

static const char ROOT_CA[] = LQ_FORGE_CONF_ROOT_CA;
#define ROOT_CA_LEN (sizeof ROOT_CA - 1u)

/* Length of the renamed root CA for home_id (without the NUL). */
static size_t root_ca_len(const char *home_id, size_t *idn)
{
    *idn = strlen(home_id);
    if (*idn > LQ_FORGE_CONF_ROOT_CA_ID_CHARS)
        *idn = LQ_FORGE_CONF_ROOT_CA_ID_CHARS;
    return ROOT_CA_LEN + 1u + *idn;
}

static bool is_root_ca(lq_forge_conf_kind_t kind, const char *name, size_t len)
{
    return kind == LQ_FORGE_CONF_CONFIGMAP && len == ROOT_CA_LEN && memcmp(name, ROOT_CA, len) == 0;
}

lq_err_t lq_forge_conf_remote_name(lq_forge_conf_kind_t kind, const char *name, size_t len,
                                   const char *home_id, char *out, size_t cap)
{
    if (!out || cap == 0 || !name || len == 0 || memchr(name, '\0', len) || !nonempty(home_id) ||
        (kind != LQ_FORGE_CONF_CONFIGMAP && kind != LQ_FORGE_CONF_SECRET))
        return LQ_EINVAL;
    if (!is_root_ca(kind, name, len)) {
        if (len >= cap) {
            out[0] = '\0';
            return LQ_ETOOBIG;
        }
        memcpy(out, name, len);
        out[len] = '\0';
        return LQ_OK;
    }
    size_t idn, total = root_ca_len(home_id, &idn);
    if (total >= cap) {
        out[0] = '\0';
        return LQ_ETOOBIG;
    }
    memcpy(out, ROOT_CA, ROOT_CA_LEN);
    out[ROOT_CA_LEN] = '.';
    memcpy(out + ROOT_CA_LEN + 1u, home_id, idn);
    out[total] = '\0';
    return LQ_OK;
}

bool lq_forge_conf_home_name(lq_forge_conf_kind_t kind, const char *rname, size_t rlen,
                             const char *home_id, const char **name, size_t *len)
{
    if (!rname || rlen == 0 || !nonempty(home_id) || !name || !len ||
        (kind != LQ_FORGE_CONF_CONFIGMAP && kind != LQ_FORGE_CONF_SECRET))
        return false;
    if (is_root_ca(kind, rname, rlen))
        return false; /* the foreign cluster's own */
    size_t idn, total = root_ca_len(home_id, &idn);
    if (kind == LQ_FORGE_CONF_CONFIGMAP && rlen == total && memcmp(rname, ROOT_CA, ROOT_CA_LEN) == 0 &&
        rname[ROOT_CA_LEN] == '.' && memcmp(rname + ROOT_CA_LEN + 1u, home_id, idn) == 0) {
        *name = ROOT_CA;
        *len = ROOT_CA_LEN;
        return true;
    }
    *name = rname;
    *len = rlen;
    return true;
}

bool lq_forge_conf_wanted(const lq_forge_conf_facts_t *f, lq_forge_conf_policy_t pol)
{
    if (!f)
        return false;
    switch (pol) {
    case LQ_FORGE_CONF_DENYLIST: return !(f->skip && !f->skip_false);
    case LQ_FORGE_CONF_ALLOWLIST: return f->allow && !f->allow_false;
    default: return false;
    }
}
