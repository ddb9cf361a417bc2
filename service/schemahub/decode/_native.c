/* A strict JSON walker that decodes the venues' usual trade frames straight into column buffers.
 *
 * One walker interprets a small static spec tree per venue (objects with known keys, arrays of
 * rows, typed leaves). A frame is taken only when every byte of it fits the spec; anything else
 * (an escape, an unknown or duplicate key, a number the per-frame path might read differently,
 * trailing text, ...) puts the frame's index in the slow list and its partial rows are dropped.
 * Being stricter than the per-frame path only costs speed, so when in doubt the walker refuses.
 *
 * Memory: every read is checked against the frame's end (word reads included). The buffers are
 * bytes objects owned by one call (no global mutable state): sized once from the burst's text,
 * written in place, cut to length and returned as they are (no copy); past the estimate they
 * grow geometrically with overflow checks. The GIL is held.
 *
 * Columns whose values repeat a lot (symbols, sides, order types) are written as int8 indices
 * into a small per-call table of their distinct values (Dict), handed over as an Arrow
 * dictionary; a column with more distinct values than the table holds turns plain.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { OK = 0, REFUSE = 1, FAIL = -1 }; /* FAIL: a Python exception is set */

typedef enum { N_OBJECT, N_ARRAY, N_INT64, N_DIGITS, N_DECIMAL, N_NUMBER, N_BOOL, N_STRING,
               N_LITERAL, N_TIME } NodeKind;
typedef enum { C_INT64, C_DOUBLE, C_BOOL, C_STRING } ColType;

typedef struct Node Node;

#define KEY_ROOM 16 /* a key's bytes, zero-padded: key_at reads them 8 at a time */

typedef struct {
    char key[KEY_ROOM];
    size_t key_len;
    int required;
    const Node *node;
} Member;

struct Node {
    NodeKind kind;
    int column;               /* output column, -1 when the value is only checked */
    int nullable;             /* JSON null accepted (the column gets a null) */
    int is_row;               /* N_OBJECT: each such object is one output row */
    int allow_empty;          /* N_STRING: "" accepted */
    char must_contain;        /* N_STRING: a byte the text must hold, 0 for none */
    int min_items;            /* N_ARRAY */
    const Member *members;    /* N_OBJECT */
    int n_members;
    const Node *item;         /* N_ARRAY */
    const char *const *literals; /* N_LITERAL */
    int n_literals;
};

typedef struct {
    const char *name;
    ColType type;
    int nullable;
    int per_frame; /* one value per frame (outside the rows), repeated on each of its rows */
    int dictionary; /* a string column whose values repeat a lot: see Dict */
} ColumnDef;

typedef struct {
    const char *name;
    const ColumnDef *columns;
    int n_columns;
    const Node *const *roots; /* frame shapes, tried in turn */
    int n_roots;
} SpecDef;

#define MEMBER(k, req, n) {k, sizeof(k) - 1, req, n}
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_COLUMNS 16
#define MAX_ROOTS 4
#define MAX_MEMBERS 32
#define MAX_DECIMAL 64 /* chars of a decimal text / JSON number: float() can never overflow */

/* ---- leaf nodes shared by the venues ---------------------------------------------------- */

static const Node SKIP_BOOL = {.kind = N_BOOL, .column = -1};
static const Node SKIP_TEXT = {.kind = N_STRING, .column = -1, .allow_empty = 1};
static const char *const SIDES_UPPER_LOWER[] = {"BUY", "SELL", "buy", "sell"};
static const char *const SIDES_LOWER[] = {"buy", "sell"};
static const char *const SNAPSHOT_UPDATE[] = {"snapshot", "update"};

/* ---- Binance: {"e":"trade",...} plain, or {"stream":"x@trade","data":{...}} combined ---- */

static const ColumnDef BINANCE_COLUMNS[] = {
    /* name, type, nullable, per_frame, dictionary */
    {"symbol", C_STRING, 0, 0, 1},     {"trade_id", C_INT64, 0, 0, 0},
    {"price", C_STRING, 0, 0, 0},      {"qty", C_STRING, 0, 0, 0},
    {"trade_time", C_INT64, 0, 0, 0},  {"is_buyer_maker", C_BOOL, 0, 0, 0},
    {"event_time", C_INT64, 1, 0, 0},
};
static const char *const BINANCE_EVENT[] = {"trade"};
static const Node BN_E = {.kind = N_LITERAL, .column = -1, .literals = BINANCE_EVENT,
                          .n_literals = 1};
static const Node BN_EVENT_TIME = {.kind = N_INT64, .column = 6, .nullable = 1};
static const Node BN_SYMBOL = {.kind = N_STRING, .column = 0};
static const Node BN_ID = {.kind = N_INT64, .column = 1};
static const Node BN_PRICE = {.kind = N_DECIMAL, .column = 2};
static const Node BN_QTY = {.kind = N_DECIMAL, .column = 3};
static const Node BN_TIME = {.kind = N_INT64, .column = 4};
static const Node BN_MAKER = {.kind = N_BOOL, .column = 5};
static const Member BN_TRADE_MEMBERS[] = {
    MEMBER("e", 1, &BN_E),      MEMBER("E", 0, &BN_EVENT_TIME), MEMBER("s", 1, &BN_SYMBOL),
    MEMBER("t", 1, &BN_ID),     MEMBER("p", 1, &BN_PRICE),      MEMBER("q", 1, &BN_QTY),
    MEMBER("T", 1, &BN_TIME),   MEMBER("m", 1, &BN_MAKER),      MEMBER("M", 0, &SKIP_BOOL),
};
static const Node BN_TRADE = {.kind = N_OBJECT, .column = -1, .is_row = 1,
                              .members = BN_TRADE_MEMBERS, .n_members = COUNT(BN_TRADE_MEMBERS)};
static const Node BN_STREAM = {.kind = N_STRING, .column = -1, .must_contain = '@'};
static const Member BN_COMBINED_MEMBERS[] = {
    MEMBER("stream", 1, &BN_STREAM), MEMBER("data", 1, &BN_TRADE),
};
static const Node BN_COMBINED = {.kind = N_OBJECT, .column = -1, .members = BN_COMBINED_MEMBERS,
                                 .n_members = COUNT(BN_COMBINED_MEMBERS)};
static const Node *const BINANCE_ROOTS[] = {&BN_COMBINED, &BN_TRADE};

/* ---- Coinbase Advanced: {"channel":"market_trades","sequence_num":N,"events":[...]} ----- */

static const ColumnDef COINBASE_COLUMNS[] = {
    {"product_id", C_STRING, 0, 0, 1}, {"trade_id", C_STRING, 0, 0, 0},
    {"price", C_STRING, 0, 0, 0},      {"size", C_STRING, 0, 0, 0},
    {"side", C_STRING, 0, 0, 1},       {"time", C_STRING, 0, 0, 0},
    {"sequence_num", C_INT64, 1, 1, 0},
};
static const Node CB_PRODUCT = {.kind = N_STRING, .column = 0};
static const Node CB_ID = {.kind = N_DIGITS, .column = 1};
static const Node CB_PRICE = {.kind = N_DECIMAL, .column = 2};
static const Node CB_SIZE = {.kind = N_DECIMAL, .column = 3};
static const Node CB_SIDE = {.kind = N_LITERAL, .column = 4, .literals = SIDES_UPPER_LOWER,
                             .n_literals = COUNT(SIDES_UPPER_LOWER)};
static const Node CB_TIME = {.kind = N_TIME, .column = 5};
static const Member CB_TRADE_MEMBERS[] = {
    MEMBER("product_id", 1, &CB_PRODUCT), MEMBER("trade_id", 1, &CB_ID),
    MEMBER("price", 1, &CB_PRICE),        MEMBER("size", 1, &CB_SIZE),
    MEMBER("time", 1, &CB_TIME),          MEMBER("side", 1, &CB_SIDE),
};
static const Node CB_TRADE = {.kind = N_OBJECT, .column = -1, .is_row = 1,
                              .members = CB_TRADE_MEMBERS, .n_members = COUNT(CB_TRADE_MEMBERS)};
static const Node CB_EVENT_TYPE = {.kind = N_LITERAL, .column = -1, .literals = SNAPSHOT_UPDATE,
                                   .n_literals = COUNT(SNAPSHOT_UPDATE)};
static const Node CB_TRADES = {.kind = N_ARRAY, .column = -1, .item = &CB_TRADE};
static const Member CB_EVENT_MEMBERS[] = {
    MEMBER("type", 1, &CB_EVENT_TYPE), MEMBER("trades", 1, &CB_TRADES),
};
static const Node CB_EVENT = {.kind = N_OBJECT, .column = -1, .members = CB_EVENT_MEMBERS,
                              .n_members = COUNT(CB_EVENT_MEMBERS)};
static const char *const CB_CHANNELS[] = {"market_trades"};
static const Node CB_CHANNEL = {.kind = N_LITERAL, .column = -1, .literals = CB_CHANNELS,
                                .n_literals = 1};
static const Node CB_SEQUENCE = {.kind = N_INT64, .column = 6, .nullable = 1};
static const Node CB_EVENTS = {.kind = N_ARRAY, .column = -1, .item = &CB_EVENT, .min_items = 1};
static const Member CB_FRAME_MEMBERS[] = {
    MEMBER("channel", 1, &CB_CHANNEL),       MEMBER("client_id", 0, &SKIP_TEXT),
    MEMBER("timestamp", 0, &SKIP_TEXT),      MEMBER("sequence_num", 0, &CB_SEQUENCE),
    MEMBER("events", 1, &CB_EVENTS),
};
static const Node CB_FRAME = {.kind = N_OBJECT, .column = -1, .members = CB_FRAME_MEMBERS,
                              .n_members = COUNT(CB_FRAME_MEMBERS)};
static const Node *const COINBASE_ROOTS[] = {&CB_FRAME};

/* ---- Kraken v2: {"channel":"trade","type":"snapshot"|"update","data":[...]} ------------- */

static const ColumnDef KRAKEN_COLUMNS[] = {
    {"symbol", C_STRING, 0, 0, 1},     {"trade_id", C_INT64, 0, 0, 0},
    {"price", C_DOUBLE, 0, 0, 0},      {"qty", C_DOUBLE, 0, 0, 0},
    {"side", C_STRING, 0, 0, 1},       {"ord_type", C_STRING, 1, 0, 1},
    {"timestamp", C_STRING, 0, 0, 0},
};
static const Node KR_SYMBOL = {.kind = N_STRING, .column = 0};
static const Node KR_ID = {.kind = N_INT64, .column = 1};
static const Node KR_PRICE = {.kind = N_NUMBER, .column = 2};
static const Node KR_QTY = {.kind = N_NUMBER, .column = 3};
static const Node KR_SIDE = {.kind = N_LITERAL, .column = 4, .literals = SIDES_LOWER,
                             .n_literals = COUNT(SIDES_LOWER)};
static const Node KR_ORD_TYPE = {.kind = N_STRING, .column = 5, .nullable = 1};
static const Node KR_TIME = {.kind = N_TIME, .column = 6};
static const Member KR_TRADE_MEMBERS[] = {
    MEMBER("symbol", 1, &KR_SYMBOL), MEMBER("side", 1, &KR_SIDE),
    MEMBER("price", 1, &KR_PRICE),   MEMBER("qty", 1, &KR_QTY),
    MEMBER("ord_type", 0, &KR_ORD_TYPE), MEMBER("trade_id", 1, &KR_ID),
    MEMBER("timestamp", 1, &KR_TIME),
};
static const Node KR_TRADE = {.kind = N_OBJECT, .column = -1, .is_row = 1,
                              .members = KR_TRADE_MEMBERS, .n_members = COUNT(KR_TRADE_MEMBERS)};
static const char *const KR_CHANNELS[] = {"trade"};
static const Node KR_CHANNEL = {.kind = N_LITERAL, .column = -1, .literals = KR_CHANNELS,
                                .n_literals = 1};
static const Node KR_TYPE = {.kind = N_LITERAL, .column = -1, .literals = SNAPSHOT_UPDATE,
                             .n_literals = COUNT(SNAPSHOT_UPDATE)};
static const Node KR_DATA = {.kind = N_ARRAY, .column = -1, .item = &KR_TRADE};
static const Member KR_FRAME_MEMBERS[] = {
    MEMBER("channel", 1, &KR_CHANNEL), MEMBER("type", 1, &KR_TYPE), MEMBER("data", 1, &KR_DATA),
};
static const Node KR_FRAME = {.kind = N_OBJECT, .column = -1, .members = KR_FRAME_MEMBERS,
                              .n_members = COUNT(KR_FRAME_MEMBERS)};
static const Node *const KRAKEN_ROOTS[] = {&KR_FRAME};

static const SpecDef SPECS[] = {
    {"binance", BINANCE_COLUMNS, COUNT(BINANCE_COLUMNS), BINANCE_ROOTS, COUNT(BINANCE_ROOTS)},
    {"coinbase", COINBASE_COLUMNS, COUNT(COINBASE_COLUMNS), COINBASE_ROOTS,
     COUNT(COINBASE_ROOTS)},
    {"kraken", KRAKEN_COLUMNS, COUNT(KRAKEN_COLUMNS), KRAKEN_ROOTS, COUNT(KRAKEN_ROOTS)},
};

/* ---- output buffers ---------------------------------------------------------------------- */

/* Each buffer is the storage of a ``bytes`` object that parse() hands to Python as it is: the
 * values are written once, into memory Arrow then wraps without a copy. A call sizes the
 * buffers up front from its input (see size_state), so the usual burst never grows one;
 * growing stays as the fallback. The bytes object is ours alone (refcount 1) until returned,
 * which is what _PyBytes_Resize needs. */
typedef struct {
    PyObject *obj; /* the bytes object, NULL before buf_open */
    char *data;    /* its storage */
    size_t len;    /* bitmaps only: bytes ever touched (zeroed on first touch) */
    size_t cap;
} Buf;

/* Resize the bytes object to exactly ``cap`` bytes (it may move). */
static int buf_resize(Buf *b, size_t cap)
{
    if (cap > (size_t)PY_SSIZE_T_MAX - sizeof(PyBytesObject)) {
        PyErr_NoMemory();
        return FAIL;
    }
    if (_PyBytes_Resize(&b->obj, (Py_ssize_t)cap) != 0) {
        b->data = NULL; /* _PyBytes_Resize freed the object and set an exception */
        b->cap = 0;
        return FAIL;
    }
    b->data = PyBytes_AS_STRING(b->obj);
    b->cap = cap;
    return OK;
}

/* A buffer of ``cap`` bytes (at least 8: an empty bytes object is a shared singleton). */
static int buf_open(Buf *b, size_t cap)
{
    cap = cap < 8 ? 8 : cap;
    if (cap > (size_t)PY_SSIZE_T_MAX - sizeof(PyBytesObject)) {
        PyErr_NoMemory();
        return FAIL;
    }
    b->obj = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (b->obj == NULL)
        return FAIL;
    b->data = PyBytes_AS_STRING(b->obj);
    b->len = 0;
    b->cap = cap;
    return OK;
}

/* Make room for ``need`` bytes in total: the fallback when the estimate was short. */
static int buf_grow(Buf *b, size_t need)
{
    if (b->obj == NULL)
        return buf_open(b, need);
    size_t cap = b->cap;
    while (cap < need)
        cap = cap > (size_t)PY_SSIZE_T_MAX / 2 ? need : cap * 2;
    return buf_resize(b, cap);
}

static inline int buf_reserve(Buf *b, size_t need)
{
    return need <= b->cap ? OK : buf_grow(b, need);
}

/* The bytes object cut to its first ``len`` bytes, handed to the caller (the Buf lets go). */
static PyObject *buf_finish(Buf *b, size_t len)
{
    if (len != b->cap && buf_resize(b, len) != OK)
        return NULL;
    PyObject *obj = b->obj;
    b->obj = NULL;
    b->data = NULL;
    b->cap = 0;
    return obj;
}

static void buf_close(Buf *b)
{
    Py_CLEAR(b->obj);
    b->data = NULL;
    b->cap = 0;
}

/* Bit ``i`` of a bitmap set or cleared explicitly (rows are rewritten after a rollback). */
static int bit_put(Buf *b, Py_ssize_t i, int on)
{
    size_t byte = (size_t)i >> 3;
    if (byte >= b->len) {
        if (buf_reserve(b, byte + 1) != OK)
            return FAIL;
        memset(b->data + b->len, 0, byte + 1 - b->len);
        b->len = byte + 1;
    }
    unsigned char mask = (unsigned char)(1u << (i & 7));
    if (on)
        b->data[byte] |= (char)mask;
    else
        b->data[byte] &= (char)~mask;
    return OK;
}

#define DICT_MAX 64         /* distinct values a dictionary column takes in one call (< 128) */
#define DICT_FIRST_CHARS 512 /* bytes its table's text gets up front */

/* The distinct values a dictionary column met in this call: entry i is the text
 * chars[offsets[i] .. offsets[i + 1]). The column's rows hold an int8 entry index each, so
 * the venues' few symbols, sides and order types are copied once, not once a row (and Arrow
 * needs no hashing to encode them later). Entries are only appended: a frame's rollback cuts
 * the table back to its count before the frame. Past DICT_MAX entries the column turns plain
 * for the rest of the call (to_plain). */
typedef struct {
    int on;        /* rows are written as indices: a dictionary column that never overflowed */
    int32_t count; /* entries */
    int32_t last;  /* the entry the previous value matched: tried first */
    int32_t offsets[DICT_MAX + 1];
    Buf chars;
} Dict;

typedef struct {
    Buf values;   /* int64 / double: 8 bytes a row; bool: bits; string: int32 offsets (n+1),
                     or int8 indices into ``dict`` while dict.on */
    Buf validity; /* bits, nullable columns only */
    Buf chars;    /* plain string columns: the UTF-8 bytes */
    Dict dict;
} Column;

typedef struct {
    const SpecDef *spec;
    Column columns[MAX_COLUMNS];
    Buf frame_ids;      /* int32 a row */
    Py_ssize_t rows;    /* committed rows; also the index of the row being read */
    int32_t frame;      /* index of the frame being read */
    int64_t frame_values[MAX_COLUMNS];
    int frame_valid[MAX_COLUMNS];
    int32_t frame_entries[MAX_COLUMNS]; /* dictionary entries before the frame being read */
    size_t first_chars;                 /* what a plain string column gets up front */
} State;

typedef struct {
    const char *p;
    const char *end;
} Cursor;

/* ---- column writes (by row index, so a rolled-back row is simply overwritten) ------------ */

static int put_fixed(Column *col, Py_ssize_t row, const void *value)
{
    size_t at = (size_t)row * 8;
    if (buf_reserve(&col->values, at + 8) != OK)
        return FAIL;
    memcpy(col->values.data + at, value, 8);
    return OK;
}

static int put_valid(State *st, int c, Py_ssize_t row, int valid)
{
    if (!st->spec->columns[c].nullable)
        return valid ? OK : REFUSE; /* never: the tables only leave nullable columns unset */
    return bit_put(&st->columns[c].validity, row, valid);
}

static int put_int64(State *st, int c, Py_ssize_t row, int64_t value, int valid)
{
    if (put_fixed(&st->columns[c], row, &value) != OK)
        return FAIL;
    return put_valid(st, c, row, valid);
}

static int put_double(State *st, int c, Py_ssize_t row, double value, int valid)
{
    if (put_fixed(&st->columns[c], row, &value) != OK)
        return FAIL;
    return put_valid(st, c, row, valid);
}

static int put_bool(State *st, int c, Py_ssize_t row, int value, int valid)
{
    if (bit_put(&st->columns[c].values, row, value) != OK)
        return FAIL;
    return put_valid(st, c, row, valid);
}

/* A string as the next bytes of a plain string column's text. */
static int put_text(Column *col, Py_ssize_t row, const char *s, size_t len)
{
    size_t at = (size_t)(row + 1) * 4;
    if (buf_reserve(&col->values, at + 4) != OK)
        return FAIL;
    int32_t start;
    memcpy(&start, col->values.data + (size_t)row * 4, 4);
    if (len > (size_t)(INT32_MAX - start))
        return REFUSE; /* Arrow's int32 offsets are full: this frame goes the slow way */
    if (buf_reserve(&col->chars, (size_t)start + len) != OK)
        return FAIL;
    if (len)
        memcpy(col->chars.data + start, s, len);
    int32_t stop = start + (int32_t)len;
    memcpy(col->values.data + at, &stop, 4);
    return OK;
}

/* Short keys and literals: an inline loop beats a call to memcmp. */
static inline int same_bytes(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static inline int entry_is(const Dict *d, int32_t i, const char *s, size_t len)
{
    return (size_t)(d->offsets[i + 1] - d->offsets[i]) == len &&
           same_bytes(d->chars.data + d->offsets[i], s, len);
}

/* The entry holding ``s``, appended when new; REFUSE when the table is full. */
static int dict_find(Dict *d, const char *s, size_t len, int32_t *index)
{
    if (d->last < d->count && entry_is(d, d->last, s, len)) {
        *index = d->last;
        return OK;
    }
    for (int32_t i = 0; i < d->count; i++) {
        if (entry_is(d, i, s, len)) {
            *index = d->last = i;
            return OK;
        }
    }
    int32_t start = d->offsets[d->count];
    if (d->count == DICT_MAX || len > (size_t)(INT32_MAX - start))
        return REFUSE;
    if (buf_reserve(&d->chars, (size_t)start + len) != OK)
        return FAIL;
    if (len)
        memcpy(d->chars.data + start, s, len);
    d->offsets[d->count + 1] = start + (int32_t)len;
    *index = d->last = d->count++;
    return OK;
}

/* A dictionary column's value as its entry index, one byte (DICT_MAX < 128: Arrow's int8
 * indices, so nothing downstream narrows them); REFUSE when the table is full. */
static int put_index(Column *col, Py_ssize_t row, const char *s, size_t len, int valid)
{
    int32_t index = 0; /* a null row's: Arrow reads no index under a null */
    if (valid) {
        int r = dict_find(&col->dict, s, len, &index);
        if (r != OK)
            return r;
    }
    if (buf_reserve(&col->values, (size_t)row + 1) != OK)
        return FAIL;
    col->values.data[row] = (char)index;
    return OK;
}

static inline int bit_on(const Buf *bits, Py_ssize_t i)
{
    return (bits->data[(size_t)i >> 3] >> (i & 7)) & 1;
}

/* A dictionary column whose table is full turns plain: its first ``rows`` rows are rewritten
 * as offsets and text (from the last row back, so each index is read before the offset that
 * takes its place overwrites it), and its later rows are written plain. */
static int to_plain(State *st, int c, Py_ssize_t rows)
{
    Column *col = &st->columns[c];
    const Dict *d = &col->dict;
    const Buf *validity = st->spec->columns[c].nullable ? &col->validity : NULL;
    size_t total = 0;
    int32_t index;
    for (Py_ssize_t r = 0; r < rows; r++) {
        index = (unsigned char)col->values.data[r];
        if (validity == NULL || bit_on(validity, r))
            total += (size_t)(d->offsets[index + 1] - d->offsets[index]);
    }
    if (total > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError,
                        "a string column's text exceeds Arrow's int32 offsets in one call");
        return FAIL;
    }
    if (buf_reserve(&col->values, ((size_t)rows + 1) * 4) != OK ||
        buf_reserve(&col->chars, total > st->first_chars ? total : st->first_chars) != OK)
        return FAIL;
    int32_t end = (int32_t)total;
    /* Backwards, in place: offset r + 1 lands at bytes 4r + 4.., past index byte r, on index
     * bytes already read. */
    for (Py_ssize_t r = rows - 1; r >= 0; r--) {
        index = (unsigned char)col->values.data[r];
        memcpy(col->values.data + (size_t)(r + 1) * 4, &end, 4);
        if (validity == NULL || bit_on(validity, r)) {
            int32_t len = d->offsets[index + 1] - d->offsets[index];
            end -= len;
            memcpy(col->chars.data + end, d->chars.data + d->offsets[index], (size_t)len);
        }
    }
    memset(col->values.data, 0, 4); /* the first offset (``end`` is back to 0) */
    col->dict.on = 0;
    return OK;
}

static int put_string(State *st, int c, Py_ssize_t row, const char *s, size_t len, int valid)
{
    Column *col = &st->columns[c];
    int r = REFUSE;
    if (col->dict.on) {
        r = put_index(col, row, s, len, valid);
        if (r == REFUSE && to_plain(st, c, row) != OK)
            return FAIL;
    }
    if (r == REFUSE)
        r = put_text(col, row, s, len);
    return r != OK ? r : put_valid(st, c, row, valid);
}

static int put_null(State *st, int c)
{
    const ColumnDef *def = &st->spec->columns[c];
    if (def->per_frame) {
        st->frame_valid[c] = 0;
        return OK;
    }
    switch (def->type) {
    case C_INT64: return put_int64(st, c, st->rows, 0, 0);
    case C_DOUBLE: return put_double(st, c, st->rows, 0.0, 0);
    case C_BOOL: return put_bool(st, c, st->rows, 0, 0);
    default: return put_string(st, c, st->rows, "", 0, 0);
    }
}

/* ---- tokens ------------------------------------------------------------------------------ */

static inline void skip_ws(Cursor *cur)
{
    /* The venues send compact JSON: almost always the next byte is not whitespace. */
    if (cur->p < cur->end && (unsigned char)*cur->p > ' ')
        return;
    while (cur->p < cur->end) {
        char ch = *cur->p;
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
            return;
        cur->p++;
    }
}

static inline int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Bytes that end the plain part of a string token: the quote, a backslash, control chars. */
static const unsigned char STRING_STOP[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

static inline uint64_t load8(const char *p)
{
    uint64_t word;
    memcpy(&word, p, 8);
    return word;
}

#define BYTES(b) (0x0101010101010101ull * (uint64_t)(b))

/* The high bit of each of the 8 bytes of ``word`` that may be a STRING_STOP byte: none is
 * missed, and the lowest one flagged is exact (a false flag needs a borrow, which only a
 * flagged byte below it gives). */
static inline uint64_t stop_flags(uint64_t word)
{
    uint64_t quote = word ^ BYTES('"'), backslash = word ^ BYTES('\\');
    uint64_t found = (quote - BYTES(1)) & ~quote;          /* a zero byte: a quote */
    found |= (backslash - BYTES(1)) & ~backslash;          /* a backslash */
    found |= (word - BYTES(0x20)) & ~word;                 /* a byte below 0x20 */
    return found & BYTES(0x80);
}

/* Bytes before the first flagged one, where memory order is the word's low bytes first; 0
 * elsewhere (the byte loop then finds it). */
static inline size_t bytes_before_flag(uint64_t flags)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(flags) >> 3;
#else
    (void)flags;
    return 0;
#endif
}

/* A string token without escapes or control characters: its bytes between the quotes. */
static int scan_string(Cursor *cur, const char **s, size_t *len)
{
    if (cur->p >= cur->end || *cur->p != '"')
        return REFUSE;
    const char *start = cur->p + 1, *q = start;
    while (cur->end - q >= 8) {
        uint64_t flags = stop_flags(load8(q));
        if (flags) {
            q += bytes_before_flag(flags);
            break;
        }
        q += 8;
    }
    while (q < cur->end && !STRING_STOP[(unsigned char)*q])
        q++;
    if (q >= cur->end || *q != '"')
        return REFUSE; /* unterminated, an escape or a control character */
    *s = start;
    *len = (size_t)(q - start);
    cur->p = q + 1;
    return OK;
}

static int scan_word(Cursor *cur, const char *word, size_t len)
{
    if ((size_t)(cur->end - cur->p) < len || memcmp(cur->p, word, len) != 0)
        return REFUSE;
    cur->p += len;
    return OK;
}

/* A JSON integer 0 .. INT64_MAX: no sign, no leading zero, no fraction or exponent. */
static int scan_int64(Cursor *cur, int64_t *out)
{
    const char *p = cur->p;
    if (p >= cur->end || !is_digit(*p))
        return REFUSE;
    uint64_t value = 0;
    if (*p == '0') {
        p++;
        if (p < cur->end && is_digit(*p))
            return REFUSE;
    } else {
        const char *first = p;
        while (p < cur->end && is_digit(*p))
            value = value * 10 + (uint64_t)(*p++ - '0'); /* 19 digits cannot wrap a uint64 */
        if (p - first > 19 || value > (uint64_t)INT64_MAX)
            return REFUSE;
    }
    if (p < cur->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return REFUSE;
    cur->p = p;
    *out = (int64_t)value;
    return OK;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A positive finite JSON number as a double: ``0|[1-9][0-9]*`` then ``.[0-9]+`` optionally;
 * no sign, no exponent, at most 64 chars, and an integer of at most 18 digits (a longer one
 * is read by the per-frame path as a big int or a float: left to it). */
static int scan_number(Cursor *cur, double *out)
{
    const char *start = cur->p, *p = start, *end = cur->end;
    uint64_t mantissa = 0;
    int significant = 0, fraction = 0;
    if (p >= end || !is_digit(*p))
        return REFUSE;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return REFUSE;
    } else {
        for (; p < end && is_digit(*p); p++) {
            if (significant < 19)
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            significant++;
        }
    }
    int integer_digits = (int)(p - start);
    if (p < end && *p == '.') {
        const char *digits = ++p;
        for (; p < end && is_digit(*p); p++) {
            if (significant || *p != '0') {
                if (significant < 19)
                    mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                significant++;
            }
        }
        fraction = (int)(p - digits);
        if (fraction == 0)
            return REFUSE;
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        return REFUSE;
    size_t len = (size_t)(p - start);
    if (len > MAX_DECIMAL || (fraction == 0 && integer_digits > 18))
        return REFUSE;
    double value;
    if (significant <= 15 && fraction <= 22) {
        /* Exact mantissa and exact power of ten: one IEEE division is correctly rounded. */
        value = (double)mantissa / POW10[fraction];
    } else {
        char text[MAX_DECIMAL + 1];
        char *stop = NULL;
        memcpy(text, start, len);
        text[len] = '\0';
        /* Python's own correctly rounded, locale-independent reader (what float() uses). */
        value = PyOS_string_to_double(text, &stop, NULL);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return REFUSE;
        }
        if (stop != text + len)
            return REFUSE;
    }
    if (!(value > 0.0) || !isfinite(value))
        return REFUSE;
    cur->p = p;
    *out = value;
    return OK;
}

/* Text of ``[0-9]+(\.[0-9]+)?`` with a non-zero digit, at most 64 chars: what
 * fields.is_decimal_text accepts on its digits-and-one-dot branch, and > 0 and finite. */
static int is_decimal(const char *s, size_t len)
{
    if (len == 0 || len > MAX_DECIMAL || !is_digit(s[0]) || !is_digit(s[len - 1]))
        return 0;
    int dots = 0, nonzero = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.')
            dots++;
        else if (!is_digit(s[i]))
            return 0;
        else if (s[i] != '0')
            nonzero = 1;
    }
    return dots <= 1 && nonzero;
}

static int is_digit_id(const char *s, size_t len)
{
    if (len == 0 || len > 18)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

static int digits_at(const char *s, size_t at, size_t count)
{
    int value = 0;
    for (size_t i = at; i < at + count; i++) {
        if (!is_digit(s[i]))
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

/* ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`` with a real date and time: a subset of fields.iso_time
 * (its regex and datetime.fromisoformat, which refuses year 0, hour 24 and second 60). */
static int is_utc_time(const char *s, size_t len)
{
    if (len < 20 || len > 30 || s[len - 1] != 'Z' || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return 0;
    if (len > 20) {
        if (s[19] != '.' || len < 22 || digits_at(s, 20, len - 21) < 0)
            return 0;
    }
    int year = digits_at(s, 0, 4), month = digits_at(s, 5, 2), day = digits_at(s, 8, 2);
    int hour = digits_at(s, 11, 2), minute = digits_at(s, 14, 2), second = digits_at(s, 17, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 59)
        return 0;
    static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day <= DAYS[month - 1])
        return 1;
    return month == 2 && day == 29 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0);
}

/* ---- the walker -------------------------------------------------------------------------- */

static int parse_value(State *st, Cursor *cur, const Node *node);

/* Write a leaf's value to its column: a row column at the current row, or the frame's slot. */
static int emit_int64(State *st, const Node *node, int64_t value)
{
    int c = node->column;
    if (c < 0)
        return OK;
    if (st->spec->columns[c].per_frame) {
        st->frame_values[c] = value;
        st->frame_valid[c] = 1;
        return OK;
    }
    return put_int64(st, c, st->rows, value, 1);
}

static int parse_text_leaf(State *st, Cursor *cur, const Node *node)
{
    const char *s;
    size_t len;
    if (scan_string(cur, &s, &len) != OK)
        return REFUSE;
    int good;
    switch (node->kind) {
    case N_DIGITS: good = is_digit_id(s, len); break;
    case N_DECIMAL: good = is_decimal(s, len); break;
    case N_TIME: good = is_utc_time(s, len); break;
    case N_LITERAL:
        good = 0;
        for (int i = 0; i < node->n_literals && !good; i++)
            /* in bounds: a string token holds no NUL, so the loop stops at a literal's end */
            good = same_bytes(node->literals[i], s, len) && node->literals[i][len] == '\0';
        break;
    default: /* N_STRING */
        good = (len > 0 || node->allow_empty) &&
               (!node->must_contain || memchr(s, node->must_contain, len) != NULL);
    }
    if (!good)
        return REFUSE;
    return node->column < 0 ? OK : put_string(st, node->column, st->rows, s, len, 1);
}

static const Member *find_member(const Node *node, const char *key, size_t len, int *hint)
{
    /* Venues send their keys in one order: try the member after the last one first. */
    int count = node->n_members, i = *hint; /* no modulo: a division costs more than a scan */
    for (int k = 0; k < count; k++, i++) {
        if (i == count)
            i = 0;
        const Member *m = &node->members[i];
        if (m->key_len == len && same_bytes(m->key, key, len)) {
            *hint = i + 1 == count ? 0 : i + 1;
            return m;
        }
    }
    return NULL;
}

/* 0xff bytes then zeros: a load at ``8 - n`` is a mask of a word's first n bytes, whatever the
 * byte order. */
static const char FIRST_BYTES[16] = {-1, -1, -1, -1, -1, -1, -1, -1};

/* The member the hint expects, when the key token at the cursor is exactly its key: the usual
 * case, compared 8 bytes at a time instead of scanned and searched. NULL when it is not, or
 * when the text ends within a key's room (find_member decides then). Same answer as
 * scan_string + find_member, as tables_ok checks that keys hold no STRING_STOP byte. */
static inline const Member *hinted_member(const Node *node, Cursor *cur, int *hint)
{
    const Member *m = &node->members[*hint];
    const char *key = cur->p + 1;
    size_t len = m->key_len; /* < KEY_ROOM: the closing quote is within the room too */
    if (cur->end - cur->p <= KEY_ROOM || *cur->p != '"' || key[len] != '"')
        return NULL;
    uint64_t diff = (load8(key) ^ load8(m->key)) & load8(FIRST_BYTES + 8 - (len < 8 ? len : 8));
    if (len > 8)
        diff |= (load8(key + 8) ^ load8(m->key + 8)) & load8(FIRST_BYTES + 16 - len);
    if (diff)
        return NULL;
    cur->p = key + len + 1;
    *hint = *hint + 1 == node->n_members ? 0 : *hint + 1;
    return m;
}

static int close_object(State *st, const Node *node, uint32_t seen)
{
    for (int i = 0; i < node->n_members; i++) {
        if (seen & (1u << i))
            continue;
        const Member *m = &node->members[i];
        if (m->required)
            return REFUSE;
        if (m->node->column >= 0 && put_null(st, m->node->column) != OK)
            return FAIL;
    }
    if (node->is_row) {
        size_t at = (size_t)st->rows * 4;
        if (buf_reserve(&st->frame_ids, at + 4) != OK)
            return FAIL;
        memcpy(st->frame_ids.data + at, &st->frame, 4);
        st->rows++;
    }
    return OK;
}

static int parse_object(State *st, Cursor *cur, const Node *node)
{
    uint32_t seen = 0;
    int hint = 0;
    cur->p++; /* '{' */
    skip_ws(cur);
    if (cur->p < cur->end && *cur->p == '}') {
        cur->p++;
        return close_object(st, node, seen);
    }
    for (;;) {
        skip_ws(cur);
        const Member *m = hinted_member(node, cur, &hint);
        if (m == NULL) {
            const char *key;
            size_t len;
            if (scan_string(cur, &key, &len) != OK)
                return REFUSE;
            m = find_member(node, key, len, &hint);
            if (m == NULL)
                return REFUSE; /* a key the spec does not know */
        }
        uint32_t bit = 1u << (m - node->members);
        if (seen & bit)
            return REFUSE; /* a duplicate key: the per-frame path keeps the last one */
        seen |= bit;
        skip_ws(cur);
        if (cur->p >= cur->end || *cur->p != ':')
            return REFUSE;
        cur->p++;
        skip_ws(cur);
        int r = parse_value(st, cur, m->node);
        if (r != OK)
            return r;
        skip_ws(cur);
        if (cur->p >= cur->end)
            return REFUSE;
        if (*cur->p == ',') {
            cur->p++;
            continue;
        }
        if (*cur->p != '}')
            return REFUSE;
        cur->p++;
        return close_object(st, node, seen);
    }
}

static int parse_array(State *st, Cursor *cur, const Node *node)
{
    int count = 0;
    cur->p++; /* '[' */
    skip_ws(cur);
    if (cur->p < cur->end && *cur->p == ']') {
        cur->p++;
        return node->min_items > 0 ? REFUSE : OK;
    }
    for (;;) {
        skip_ws(cur);
        int r = parse_value(st, cur, node->item);
        if (r != OK)
            return r;
        count++;
        skip_ws(cur);
        if (cur->p >= cur->end)
            return REFUSE;
        if (*cur->p == ',') {
            cur->p++;
            continue;
        }
        if (*cur->p != ']')
            return REFUSE;
        cur->p++;
        return count >= node->min_items ? OK : REFUSE;
    }
}

/* One value of ``node``'s kind at the cursor (whitespace before it already skipped). */
static int parse_value(State *st, Cursor *cur, const Node *node)
{
    if (cur->p >= cur->end)
        return REFUSE;
    char first = *cur->p;
    if (first == 'n' && node->nullable) {
        if (scan_word(cur, "null", 4) != OK)
            return REFUSE;
        return node->column < 0 ? OK : put_null(st, node->column);
    }
    switch (node->kind) {
    case N_OBJECT: return first == '{' ? parse_object(st, cur, node) : REFUSE;
    case N_ARRAY: return first == '[' ? parse_array(st, cur, node) : REFUSE;
    case N_INT64: {
        int64_t value;
        if (scan_int64(cur, &value) != OK)
            return REFUSE;
        return emit_int64(st, node, value);
    }
    case N_NUMBER: {
        double value;
        if (scan_number(cur, &value) != OK)
            return REFUSE;
        return node->column < 0 ? OK : put_double(st, node->column, st->rows, value, 1);
    }
    case N_BOOL: {
        int value = first == 't';
        if (scan_word(cur, value ? "true" : "false", value ? 4 : 5) != OK)
            return REFUSE;
        return node->column < 0 ? OK : put_bool(st, node->column, st->rows, value, 1);
    }
    default: return parse_text_leaf(st, cur, node);
    }
}

/* ---- sizing a call's buffers up front ---------------------------------------------------- */

#define FIRST_RESERVE_MAX ((size_t)1 << 26) /* bytes a buffer gets up front at most; then grows */
#define CHARS_SHARE 4 /* a string column's text: usually well under a quarter of the frames' */

/* The fewest bytes a value of ``node`` takes in a frame the walker accepts. */
static size_t min_text(const Node *node)
{
    size_t least;
    switch (node->kind) {
    case N_OBJECT: {
        int required = 0;
        least = 2; /* the braces */
        for (int i = 0; i < node->n_members; i++) {
            const Member *m = &node->members[i];
            if (m->required) {
                least += m->key_len + 3 + min_text(m->node); /* the quotes and colon */
                required++;
            }
        }
        least += required > 1 ? (size_t)(required - 1) : 0; /* the commas */
        break;
    }
    case N_ARRAY:
        least = node->min_items ? 1 + (size_t)node->min_items * (min_text(node->item) + 1) : 2;
        break;
    case N_INT64: case N_NUMBER: least = 1; break;
    case N_BOOL: least = 4; break;
    case N_DIGITS: case N_DECIMAL: least = 3; break; /* a quoted digit */
    case N_TIME: least = 22; break;                   /* YYYY-MM-DDTHH:MM:SSZ quoted */
    case N_LITERAL:
        least = SIZE_MAX;
        for (int i = 0; i < node->n_literals; i++) {
            size_t len = 2 + strlen(node->literals[i]);
            least = len < least ? len : least;
        }
        break;
    default: least = node->allow_empty ? 2 : 3; /* N_STRING */
    }
    return node->nullable && least > 4 ? 4 : least; /* null */
}

/* The fewest bytes one output row takes: rows are disjoint objects of the frames' text. */
static size_t min_row_text(const Node *node)
{
    if (node->is_row)
        return min_text(node);
    if (node->kind == N_ARRAY)
        return min_row_text(node->item);
    size_t least = SIZE_MAX;
    for (int i = 0; node->kind == N_OBJECT && i < node->n_members; i++) {
        size_t member = min_row_text(node->members[i].node);
        least = member < least ? member : least;
    }
    return least;
}

/* At least the UTF-8 size of ``frame``, without encoding it (exact for ASCII, which the venues
 * send); 0 for anything but a str, which goes the slow way. */
static size_t text_bound(PyObject *frame)
{
    if (!PyUnicode_CheckExact(frame))
        return 0;
    size_t length = (size_t)PyUnicode_GET_LENGTH(frame);
    if (PyUnicode_IS_ASCII(frame))
        return length;
    int kind = PyUnicode_KIND(frame);
    return length * (kind == PyUnicode_1BYTE_KIND ? 2 : kind == PyUnicode_2BYTE_KIND ? 3 : 4);
}

typedef struct {
    size_t rows;  /* rows every column gets room for */
    size_t chars; /* bytes of text every string column gets room for */
} Sizes;

/* What a call reserves for ``frames``: room for every row the text can hold, since rows cannot
 * be fewer bytes than min_row_text (+1: the row being read when the text ends), and a share
 * of the text per string column (the one estimate that may fall short: then buffers grow). */
static Sizes first_sizes(const SpecDef *spec, PyObject *seq)
{
    size_t text = 0, least_row = SIZE_MAX;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t bound = text_bound(PySequence_Fast_GET_ITEM(seq, i));
        text = bound > SIZE_MAX - text ? SIZE_MAX : text + bound;
    }
    for (int k = 0; k < spec->n_roots; k++) {
        size_t row = min_row_text(spec->roots[k]);
        least_row = row < least_row ? row : least_row;
    }
    Sizes sizes = {text / least_row + 1, text / CHARS_SHARE + 64};
    if (sizes.rows > FIRST_RESERVE_MAX / 8)
        sizes.rows = FIRST_RESERVE_MAX / 8;
    if (sizes.chars > FIRST_RESERVE_MAX)
        sizes.chars = FIRST_RESERVE_MAX;
    return sizes;
}

/* Every buffer of the call opened at its first size. */
static int open_state(State *st, const SpecDef *spec, Sizes sizes)
{
    size_t bitmap = sizes.rows / 8 + 1;
    st->spec = spec;
    st->first_chars = sizes.chars;
    for (int c = 0; c < spec->n_columns; c++) {
        const ColumnDef *def = &spec->columns[c];
        Column *col = &st->columns[c];
        size_t values = def->type == C_BOOL     ? bitmap
                        : def->type == C_STRING ? (sizes.rows + 1) * 4
                                                : sizes.rows * 8;
        if (buf_open(&col->values, values) != OK)
            return FAIL;
        if (def->nullable && buf_open(&col->validity, bitmap) != OK)
            return FAIL;
        if (def->dictionary) {
            col->dict.on = 1; /* its plain text only if the table overflows (to_plain) */
            if (buf_open(&col->dict.chars, DICT_FIRST_CHARS) != OK)
                return FAIL;
        } else if (def->type == C_STRING) {
            if (buf_open(&col->chars, sizes.chars) != OK)
                return FAIL;
            memset(col->values.data, 0, 4); /* the first string offset */
        }
    }
    return buf_open(&st->frame_ids, sizes.rows * 4);
}

/* ---- one call: frames -> buffers ----------------------------------------------------------- */

/* After a taken frame: its per-frame values onto its rows, and into the per-frame lists. */
static int commit_frame(State *st, Py_ssize_t first_row, Py_ssize_t index, PyObject *lists)
{
    for (int c = 0, k = 0; c < st->spec->n_columns; c++) {
        if (!st->spec->columns[c].per_frame)
            continue;
        int64_t value = st->frame_values[c];
        int valid = st->frame_valid[c];
        for (Py_ssize_t row = first_row; row < st->rows; row++)
            if (put_int64(st, c, row, value, valid) != OK)
                return FAIL;
        if (valid) {
            PyObject *number = PyLong_FromLongLong(value);
            if (number == NULL)
                return FAIL;
            PyList_SET_ITEM(PyList_GET_ITEM(lists, k), index, number); /* None was borrowed */
            Py_DECREF(Py_None);
        }
        k++;
    }
    return OK;
}

/* Forget what the frame being read wrote: its rows (rewritten by the next frame) and the
 * dictionary entries it added, which only its rows use. */
static void drop_frame(State *st, Py_ssize_t first_row)
{
    st->rows = first_row;
    for (int c = 0; c < st->spec->n_columns; c++) {
        Dict *d = &st->columns[c].dict;
        d->count = st->frame_entries[c];
        if (d->last >= d->count)
            d->last = 0;
    }
}

/* Parse one frame with each root in turn; OK when taken, REFUSE, or FAIL. */
static int parse_frame(State *st, PyObject *frame, int *order)
{
    if (!PyUnicode_CheckExact(frame))
        return REFUSE;
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(frame, &size);
    if (text == NULL) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError))
            return FAIL;
        PyErr_Clear(); /* a lone surrogate: not UTF-8, so the per-frame path decides */
        return REFUSE;
    }
    Py_ssize_t first_row = st->rows;
    for (int c = 0; c < st->spec->n_columns; c++)
        st->frame_entries[c] = st->columns[c].dict.count;
    for (int k = 0; k < st->spec->n_roots; k++) {
        for (int c = 0; c < st->spec->n_columns; c++)
            st->frame_valid[c] = 0;
        Cursor cur = {text, text + size};
        skip_ws(&cur);
        int r = parse_value(st, &cur, st->spec->roots[order[k]]);
        if (r == OK) {
            skip_ws(&cur);
            if (cur.p == cur.end) {
                int taken = order[k]; /* a connection sends one shape: try it first next */
                memmove(order + 1, order, (size_t)k * sizeof(int));
                order[0] = taken;
                return OK;
            }
            r = REFUSE; /* trailing text after the root value */
        }
        drop_frame(st, first_row);
        if (r == FAIL)
            return FAIL;
    }
    return REFUSE;
}

static Py_ssize_t count_nulls(const Buf *validity, Py_ssize_t rows)
{
    const unsigned char *bits = (const unsigned char *)validity->data;
    Py_ssize_t valid = 0, whole = rows >> 3;
    for (Py_ssize_t i = 0; i < whole; i++)
        valid += __builtin_popcount(bits[i]);
    if (rows & 7) /* the last byte's bits past the rows may be left from a rollback */
        valid += __builtin_popcount(bits[whole] & ((1u << (rows & 7)) - 1));
    return rows - valid;
}

/* (null_count, validity bytes or None, values bytes, chars bytes or None, dictionary offsets
 * bytes or None) of column ``c``: the buffers themselves, cut to their length. */
static PyObject *column_result(State *st, int c)
{
    Column *col = &st->columns[c];
    const ColumnDef *def = &st->spec->columns[c];
    const Dict *d = &col->dict;
    size_t rows = (size_t)st->rows, bitmap = (rows + 7) / 8;
    Py_ssize_t nulls = def->nullable ? count_nulls(&col->validity, st->rows) : 0;
    PyObject *validity = nulls ? buf_finish(&col->validity, bitmap) : Py_NewRef(Py_None);
    PyObject *values, *chars, *entries;
    if (d->on) {
        values = buf_finish(&col->values, rows);
        chars = buf_finish(&col->dict.chars, (size_t)d->offsets[d->count]);
        entries = PyBytes_FromStringAndSize((const char *)d->offsets,
                                            ((Py_ssize_t)d->count + 1) * 4);
    } else if (def->type == C_STRING) {
        int32_t stop;
        memcpy(&stop, col->values.data + rows * 4, 4);
        values = buf_finish(&col->values, (rows + 1) * 4);
        chars = buf_finish(&col->chars, (size_t)stop);
        entries = Py_NewRef(Py_None);
    } else {
        values = buf_finish(&col->values, def->type == C_BOOL ? bitmap : rows * 8);
        chars = Py_NewRef(Py_None);
        entries = Py_NewRef(Py_None);
    }
    if (validity == NULL || values == NULL || chars == NULL || entries == NULL) {
        Py_XDECREF(validity);
        Py_XDECREF(values);
        Py_XDECREF(chars);
        Py_XDECREF(entries);
        return NULL;
    }
    return Py_BuildValue("(nNNNN)", nulls, validity, values, chars, entries);
}

static PyObject *build_result(State *st, PyObject *slow, PyObject *lists)
{
    PyObject *columns = PyList_New(st->spec->n_columns);
    if (columns == NULL)
        return NULL;
    for (int c = 0; c < st->spec->n_columns; c++) {
        PyObject *item = column_result(st, c);
        if (item == NULL) {
            Py_DECREF(columns);
            return NULL;
        }
        PyList_SET_ITEM(columns, c, item);
    }
    PyObject *ids = buf_finish(&st->frame_ids, (size_t)st->rows * 4);
    if (ids == NULL) {
        Py_DECREF(columns);
        return NULL;
    }
    return Py_BuildValue("(nNNOO)", st->rows, columns, ids, lists, slow);
}

static void free_state(State *st)
{
    for (int c = 0; c < MAX_COLUMNS; c++) {
        buf_close(&st->columns[c].values);
        buf_close(&st->columns[c].validity);
        buf_close(&st->columns[c].chars);
        buf_close(&st->columns[c].dict.chars);
    }
    buf_close(&st->frame_ids);
}

static const SpecDef *find_spec(PyObject *name)
{
    const char *text = PyUnicode_AsUTF8(name);
    if (text == NULL)
        return NULL;
    for (int i = 0; i < COUNT(SPECS); i++)
        if (strcmp(SPECS[i].name, text) == 0)
            return &SPECS[i];
    PyErr_Format(PyExc_ValueError, "no native spec named %R; expected binance, coinbase or kraken",
                 name);
    return NULL;
}

/* One list per per-frame column, ``count`` Nones each. */
static PyObject *per_frame_lists(const SpecDef *spec, Py_ssize_t count)
{
    PyObject *lists = PyList_New(0);
    for (int c = 0; lists != NULL && c < spec->n_columns; c++) {
        if (!spec->columns[c].per_frame)
            continue;
        PyObject *list = PyList_New(count);
        if (list == NULL || PyList_Append(lists, list) != 0) {
            Py_XDECREF(list);
            Py_CLEAR(lists);
            break;
        }
        for (Py_ssize_t i = 0; i < count; i++)
            PyList_SET_ITEM(list, i, Py_NewRef(Py_None));
        Py_DECREF(list);
    }
    return lists;
}

PyDoc_STRVAR(parse_doc,
"parse(spec, frames) -> (rows, columns, frame_ids, per_frame, slow)\n\n"
"Decode the frames (a list or tuple) of venue spec ``spec`` into column buffers.\n"
"columns: per spec column (see columns()), (null_count, validity bitmap or None, values,\n"
"chars or None, entries or None): int64/float64 little-endian values, bool bits, or string\n"
"int32 offsets with UTF-8 chars; for a dictionary column (entries not None), int8 indices\n"
"into a dictionary of len(entries) // 4 - 1 strings with int32 offsets entries and text\n"
"chars (a dictionary column with more than 64 distinct values in the call comes plain).\n"
"frame_ids: int32 frame index per row. per_frame: per per-frame column,\n"
"a list with the value (or None) of every frame. slow: indexes of the frames not taken.");

/* The (spec name, frames) arguments of parse() and first_sizes(): the spec and the frames as a
 * fast sequence (a new reference), or NULL with an exception set. */
static PyObject *spec_and_frames(PyObject *args, const char *format, const SpecDef **spec)
{
    PyObject *name, *frames;
    if (!PyArg_ParseTuple(args, format, &name, &frames))
        return NULL;
    *spec = find_spec(name);
    if (*spec == NULL)
        return NULL;
    return PySequence_Fast(frames, "frames must be a list or tuple");
}

static PyObject *native_parse(PyObject *module, PyObject *args)
{
    const SpecDef *spec;
    PyObject *seq = spec_and_frames(args, "UO:parse", &spec);
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (count > INT32_MAX) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "too many frames (%zd); at most 2^31-1", count);
    }
    State st;
    memset(&st, 0, sizeof(st)); /* free_state is safe whatever fails first */
    PyObject *slow = PyList_New(0), *lists = per_frame_lists(spec, count), *result = NULL;
    int order[MAX_ROOTS];
    for (int k = 0; k < spec->n_roots; k++)
        order[k] = k;
    if (slow == NULL || lists == NULL || open_state(&st, spec, first_sizes(spec, seq)) != OK)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        st.frame = (int32_t)i;
        Py_ssize_t first_row = st.rows;
        int r = parse_frame(&st, PySequence_Fast_GET_ITEM(seq, i), order);
        if (r == OK)
            r = commit_frame(&st, first_row, i, lists);
        if (r == FAIL)
            goto done;
        if (r == REFUSE) {
            PyObject *index = PyLong_FromSsize_t(i);
            int appended = index == NULL ? -1 : PyList_Append(slow, index);
            Py_XDECREF(index);
            if (appended != 0)
                goto done;
        }
    }
    result = build_result(&st, slow, lists);
done:
    free_state(&st);
    Py_XDECREF(slow);
    Py_XDECREF(lists);
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(first_sizes_doc,
"first_sizes(spec, frames) -> (rows, chars)\n\n"
"What parse(spec, frames) reserves up front: room for ``rows`` rows in every column (no\n"
"accepted frames can hold more) and ``chars`` bytes of text per string column (an estimate:\n"
"past it, the buffers grow).");

static PyObject *native_first_sizes(PyObject *module, PyObject *args)
{
    const SpecDef *spec;
    PyObject *seq = spec_and_frames(args, "UO:first_sizes", &spec);
    if (seq == NULL)
        return NULL;
    Sizes sizes = first_sizes(spec, seq);
    Py_DECREF(seq);
    return Py_BuildValue("(nn)", (Py_ssize_t)sizes.rows, (Py_ssize_t)sizes.chars);
}

static const char *type_name(ColType type)
{
    switch (type) {
    case C_INT64: return "int64";
    case C_DOUBLE: return "double";
    case C_BOOL: return "bool";
    default: return "string";
    }
}

PyDoc_STRVAR(columns_doc,
"columns(spec) -> tuple of (name, type, nullable, per_frame, dictionary)\n\n"
"The output columns of ``spec`` in parse() order; type is int64, double, bool or string;\n"
"dictionary: parse() returns the column dictionary-encoded (unless it overflows).");

static PyObject *native_columns(PyObject *module, PyObject *name)
{
    const SpecDef *spec = find_spec(name);
    if (spec == NULL)
        return NULL;
    PyObject *out = PyTuple_New(spec->n_columns);
    for (int c = 0; out != NULL && c < spec->n_columns; c++) {
        const ColumnDef *def = &spec->columns[c];
        PyObject *item = Py_BuildValue("(ssOOO)", def->name, type_name(def->type),
                                       def->nullable ? Py_True : Py_False,
                                       def->per_frame ? Py_True : Py_False,
                                       def->dictionary ? Py_True : Py_False);
        if (item == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, c, item);
    }
    return out;
}

static PyMethodDef METHODS[] = {
    {"parse", native_parse, METH_VARARGS, parse_doc},
    {"columns", native_columns, METH_O, columns_doc},
    {"first_sizes", native_first_sizes, METH_VARARGS, first_sizes_doc},
    {NULL, NULL, 0, NULL},
};

/* hinted_member's assumptions: a key fits its room, is plain text, and is not repeated. */
static int key_ok(const Node *node, int i)
{
    const Member *m = &node->members[i];
    if (m->key_len >= KEY_ROOM || strlen(m->key) != m->key_len)
        return 0;
    for (size_t k = 0; k < m->key_len; k++)
        if (STRING_STOP[(unsigned char)m->key[k]])
            return 0;
    for (int j = 0; j < i; j++)
        if (strcmp(node->members[j].key, m->key) == 0)
            return 0;
    return 1;
}

static int node_ok(const SpecDef *spec, const Node *node)
{
    if (node->column >= spec->n_columns)
        return 0;
    if (node->kind == N_ARRAY)
        return node_ok(spec, node->item);
    if (node->kind != N_OBJECT)
        return 1;
    if (node->n_members < 1 || node->n_members > MAX_MEMBERS)
        return 0; /* the seen-keys mask is 32 bits; the hint needs a member */
    for (int i = 0; i < node->n_members; i++) {
        const Node *child = node->members[i].node;
        if (!key_ok(node, i))
            return 0;
        /* a member that may be absent leaves its column null */
        if (!node->members[i].required && child->column >= 0 &&
            !spec->columns[child->column].nullable)
            return 0;
        if (!node_ok(spec, child))
            return 0;
    }
    return 1;
}

/* The static tables keep the walker's assumptions: checked once at import. */
static int tables_ok(void)
{
    for (int s = 0; s < COUNT(SPECS); s++) {
        if (SPECS[s].n_columns > MAX_COLUMNS || SPECS[s].n_roots > MAX_ROOTS)
            return 0;
        for (int c = 0; c < SPECS[s].n_columns; c++) {
            const ColumnDef *def = &SPECS[s].columns[c];
            if (def->dictionary && (def->type != C_STRING || def->per_frame))
                return 0; /* tables of per-row text only */
        }
        for (int k = 0; k < SPECS[s].n_roots; k++)
            if (!node_ok(&SPECS[s], SPECS[s].roots[k]))
                return 0;
    }
    return 1;
}

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_native",
    "Strict native decoding of the venues' usual trade frames into column buffers.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    if (!tables_ok()) {
        PyErr_SetString(PyExc_ImportError, "_native: spec tables exceed the walker's limits");
        return NULL;
    }
    PyObject *module = PyModule_Create(&MODULE);
    if (module != NULL && PyModule_AddIntConstant(module, "DICT_MAX", DICT_MAX) != 0)
        Py_CLEAR(module);
    return module;
}
