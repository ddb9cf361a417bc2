/* One pass over an Arrow string column: ISO 8601 text -> int64 UTC microseconds.
 *
 * The grammar and the checks are exactly those of the Arrow path of the ``iso8601`` transform
 * (schemahub.mapping.transforms.iso8601_arrow), which tests/mapping/test_iso_native.py holds as
 * the reference:
 *
 *   YYYY-MM-DD ('T' | ' ') hh:mm:ss [ '.' 1..9 digits ] ( 'Z' | ('+'|'-') hh [ [':'] mm ] )
 *
 * ASCII digits only; fraction digits past the sixth are truncated, never rounded. Month 1-12,
 * day within its month (proleptic Gregorian, year 0000 included, as Arrow's cast decides), hour
 * 0-23, minute and second 0-59 (no leap second), zone hours 0-23 and zone minutes 0-59. The UTC
 * result must fall in years 1..9999 (what Python's datetime can hold).
 *
 * Memory: the input buffers are read through the buffer protocol and every offset is checked
 * against the buffers' sizes before a byte is read; the outputs are fresh bytes objects owned by
 * the call. The GIL is released while rows are parsed (only raw memory is touched then).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define US_PER_SECOND INT64_C(1000000)
#define SECONDS_PER_DAY INT64_C(86400)
/* 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 UTC, microseconds since 1970. */
#define MIN_EPOCH_US INT64_C(-62135596800000000)
#define MAX_EPOCH_US INT64_C(253402300799999999)

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Two ASCII digits at s as a number, or -1. */
static int two(const unsigned char *s)
{
    if (!is_digit(s[0]) || !is_digit(s[1]))
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int is_leap(unsigned year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

static unsigned days_in_month(unsigned year, unsigned month)
{
    static const unsigned char DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : DAYS[month - 1];
}

/* Days from 1970-01-01 to a valid proleptic Gregorian date of years 0..9999. */
static int64_t days_from_civil(unsigned year, unsigned month, unsigned day)
{
    /* Counting years from March puts the leap day last, so a year's day count is linear. One
     * extra 400-year era keeps every quantity unsigned (no idiv: divisions become multiplies). */
    unsigned y = year + 400 - (month <= 2);
    unsigned era = y / 400, year_of_era = y % 400;
    unsigned day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return (int64_t)era * 146097 + day_of_era - 719468 - 146097;
}

/* The zone at s (len bytes, to the end of the text) as seconds east of UTC; 0 when refused. */
static int parse_zone(const unsigned char *s, size_t len, int64_t *east)
{
    if (len == 1 && s[0] == 'Z') {
        *east = 0;
        return 1;
    }
    if (len < 3 || (s[0] != '+' && s[0] != '-'))
        return 0;
    int hours = two(s + 1), minutes = 0;
    if (len == 5)
        minutes = two(s + 3);
    else if (len == 6 && s[3] == ':')
        minutes = two(s + 4);
    else if (len != 3)
        return 0;
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59)
        return 0;
    int64_t seconds = (int64_t)hours * 3600 + minutes * 60;
    *east = s[0] == '-' ? -seconds : seconds;
    return 1;
}

/* The fraction at s (after the '.'): 1..9 digits as microseconds; returns the digits read or 0. */
static size_t parse_fraction(const unsigned char *s, size_t len, int64_t *micros)
{
    size_t n = 0;
    while (n < len && is_digit(s[n]))
        n++;
    if (n == 0 || n > 9)
        return 0;
    int64_t value = 0;
    for (size_t k = 0; k < 6; k++) /* digits past the sixth are dropped: truncation */
        value = value * 10 + (k < n ? s[k] - '0' : 0);
    *micros = value;
    return n;
}

/* The last date text accepted and its day number: a column's rows mostly share their date. */
typedef struct {
    unsigned char text[10];
    int64_t days;
    int known;
} DateMemo;

/* Days since 1970 of the date ``YYYY-MM-DD`` at s; 0 when refused. */
static int parse_date(const unsigned char *s, int64_t *days, DateMemo *memo)
{
    if (memo->known && memcmp(s, memo->text, 10) == 0) {
        *days = memo->days;
        return 1;
    }
    int century = two(s), year_low = two(s + 2), month = two(s + 5), day = two(s + 8);
    if (s[4] != '-' || s[7] != '-' || century < 0 || year_low < 0 || month < 1 || month > 12 ||
        day < 1)
        return 0;
    unsigned year = (unsigned)(century * 100 + year_low);
    if ((unsigned)day > days_in_month(year, (unsigned)month))
        return 0;
    *days = days_from_civil(year, (unsigned)month, (unsigned)day);
    memcpy(memo->text, s, 10);
    memo->days = *days;
    memo->known = 1;
    return 1;
}

/* The date and time of the first 19 bytes, as zone-less seconds since 1970; 0 when refused. */
static int parse_date_time(const unsigned char *s, int64_t *seconds, DateMemo *memo)
{
    int hour = two(s + 11), minute = two(s + 14), second = two(s + 17);
    if ((s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return 0;
    int64_t days;
    if (!parse_date(s, &days, memo))
        return 0;
    *seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    return 1;
}

/* One text -> UTC microseconds in years 1..9999; 0 when refused. */
static int parse_iso(const unsigned char *s, size_t len, int64_t *out, DateMemo *memo)
{
    int64_t local_seconds, micros = 0, east;
    if (len < 20 || !parse_date_time(s, &local_seconds, memo))
        return 0;
    size_t pos = 19;
    if (s[pos] == '.') {
        size_t digits = parse_fraction(s + pos + 1, len - pos - 1, &micros);
        if (digits == 0)
            return 0;
        pos += 1 + digits;
    }
    if (pos >= len || !parse_zone(s + pos, len - pos, &east))
        return 0;
    int64_t utc = (local_seconds - east) * US_PER_SECOND + micros;
    if (utc < MIN_EPOCH_US || utc > MAX_EPOCH_US)
        return 0;
    *out = utc;
    return 1;
}

typedef struct {
    Py_ssize_t length, offset; /* rows, and the array's first row in its buffers */
    const unsigned char *validity; /* NULL: no nulls */
    const void *offsets;
    int large; /* offsets are int64 (large_string), else int32 */
    const unsigned char *data;
    Py_ssize_t data_size;
} Column;

typedef struct {
    int64_t *values;
    unsigned char *valid;   /* output validity: set where a value came out */
    unsigned char *refused; /* set where a non-null text was refused */
    Py_ssize_t nulls, refused_count;
    int bad_offsets; /* the buffers are not a valid string column */
} Parsed;

static int64_t offset_at(const Column *col, Py_ssize_t i)
{
    return col->large ? ((const int64_t *)col->offsets)[i] : ((const int32_t *)col->offsets)[i];
}

static int bit(const unsigned char *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static void set_bit(unsigned char *bits, Py_ssize_t i)
{
    bits[i >> 3] |= (unsigned char)(1u << (i & 7));
}

/* Parses every row; runs without the GIL. */
static void parse_rows(const Column *col, Parsed *out)
{
    DateMemo memo = {{0}, 0, 0};
    for (Py_ssize_t row = 0; row < col->length; row++) {
        Py_ssize_t at = col->offset + row;
        out->values[row] = 0;
        if (col->validity != NULL && !bit(col->validity, at)) {
            out->nulls++;
            continue;
        }
        int64_t start = offset_at(col, at), end = offset_at(col, at + 1);
        if (start < 0 || end < start || end > col->data_size) {
            out->bad_offsets = 1;
            return;
        }
        if (parse_iso(col->data + start, (size_t)(end - start), &out->values[row], &memo)) {
            set_bit(out->valid, row);
        } else {
            set_bit(out->refused, row);
            out->refused_count++;
            out->nulls++;
        }
    }
}

/* A buffer argument (None for an absent one) opened for reading; 0 with an exception set. */
static int open_buffer(PyObject *obj, Py_buffer *view, const char *what)
{
    view->obj = NULL;
    view->buf = NULL;
    view->len = 0;
    if (obj == Py_None)
        return 1;
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "_iso.parse: the %s buffer does not expose its memory",
                     what);
        return 0;
    }
    return 1;
}

/* Checks the buffers hold what length and offset promise; 0 with ValueError set. */
static int sizes_ok(const Column *col, const Py_buffer *validity, const Py_buffer *offsets)
{
    if (col->length < 0 || col->offset < 0 || col->length > PY_SSIZE_T_MAX / 16 - col->offset) {
        PyErr_Format(PyExc_ValueError, "_iso.parse: length %zd and offset %zd must be >= 0",
                     col->length, col->offset);
        return 0;
    }
    Py_ssize_t rows = col->offset + col->length;
    Py_ssize_t width = col->large ? 8 : 4;
    if (col->length > 0 && (offsets->buf == NULL || offsets->len < (rows + 1) * width)) {
        PyErr_Format(PyExc_ValueError,
                     "_iso.parse: the offsets buffer holds %zd bytes; expected at least %zd",
                     offsets->len, (rows + 1) * width);
        return 0;
    }
    if (validity->buf != NULL && validity->len < (rows + 7) / 8) {
        PyErr_Format(PyExc_ValueError,
                     "_iso.parse: the validity buffer holds %zd bytes; expected at least %zd",
                     validity->len, (rows + 7) / 8);
        return 0;
    }
    return 1;
}

/* Zero-filled bytes of len (a bitmap to set bits in). */
static PyObject *zeroed_bytes(Py_ssize_t len)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, len);
    if (bytes != NULL)
        memset(PyBytes_AS_STRING(bytes), 0, (size_t)len);
    return bytes;
}

/* Runs the parse over opened buffers and builds the result tuple. */
static PyObject *parse_column(Column *col)
{
    Py_ssize_t bitmap_len = (col->length + 7) / 8;
    PyObject *values = PyBytes_FromStringAndSize(NULL, col->length * 8);
    PyObject *valid = zeroed_bytes(bitmap_len);
    PyObject *refused = zeroed_bytes(bitmap_len);
    PyObject *result = NULL;
    if (values == NULL || valid == NULL || refused == NULL)
        goto done;
    Parsed out = {(int64_t *)PyBytes_AS_STRING(values), (unsigned char *)PyBytes_AS_STRING(valid),
                  (unsigned char *)PyBytes_AS_STRING(refused), 0, 0, 0};
    Py_BEGIN_ALLOW_THREADS
    parse_rows(col, &out);
    Py_END_ALLOW_THREADS
    if (out.bad_offsets) {
        PyErr_SetString(PyExc_ValueError,
                        "_iso.parse: the offsets are not increasing within the data buffer");
        goto done;
    }
    /* None for a bitmap with nothing to say, so the wrapper can skip it. */
    result = Py_BuildValue("(OOnO)", values, out.nulls ? valid : Py_None, out.nulls,
                           out.refused_count ? refused : Py_None);
done:
    Py_XDECREF(values);
    Py_XDECREF(valid);
    Py_XDECREF(refused);
    return result;
}

PyDoc_STRVAR(parse_doc,
             "parse(length, offset, validity, offsets, data, large) -> "
             "(values, validity, null_count, refused)\n\n"
             "Parse rows offset..offset+length of an Arrow string (large=False) or large_string\n"
             "column, given its three buffers (validity and data may be None), into int64 UTC\n"
             "microseconds. validity is None when no row is null; refused (one bit per row, set\n"
             "where a non-null text was refused) is None when none was.");

static PyObject *iso_parse(PyObject *self, PyObject *args)
{
    Py_ssize_t length, offset;
    PyObject *validity_obj, *offsets_obj, *data_obj;
    int large;
    if (!PyArg_ParseTuple(args, "nnOOOp", &length, &offset, &validity_obj, &offsets_obj,
                          &data_obj, &large))
        return NULL;
    /* obj stays NULL for a view never opened, so the release below knows what to release. */
    Py_buffer validity = {.obj = NULL}, offsets = {.obj = NULL}, data = {.obj = NULL};
    PyObject *result = NULL;
    if (open_buffer(validity_obj, &validity, "validity") &&
        open_buffer(offsets_obj, &offsets, "offsets") && open_buffer(data_obj, &data, "data")) {
        Column col = {length, offset, validity.buf, offsets.buf, large, data.buf, data.len};
        if (sizes_ok(&col, &validity, &offsets))
            result = parse_column(&col);
    }
    if (validity.obj != NULL)
        PyBuffer_Release(&validity);
    if (offsets.obj != NULL)
        PyBuffer_Release(&offsets);
    if (data.obj != NULL)
        PyBuffer_Release(&data);
    return result;
}

static PyMethodDef METHODS[] = {
    {"parse", iso_parse, METH_VARARGS, parse_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_iso",
    "One-pass ISO 8601 text -> UTC microseconds over Arrow string buffers.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__iso(void) { return PyModule_Create(&MODULE); }
