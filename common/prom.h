/*
 * prom.h -- Prometheus metrics without I/O: a small registry of counters,
 * gauges and histograms, the text exposition format 0.0.4 writer, and the
 * parser of the HTTP/1.x request heads a metrics endpoint serves
 * (broker/metrics.h is brookd's endpoint and its metrics).
 *
 * The registry (bk_mreg).  Families (name, HELP text, type, up to
 * BK_M_MAX_LABELS label names, histogram bucket bounds) own series (one
 * per label-value tuple).  Names, help texts and label names are static
 * strings the caller keeps alive; label values are copied.  A series is a
 * plain struct: the hot path increments a field through a pointer it
 * looked up once (no hashing, formatting or allocation per event).
 * Collectors registered with bk_mreg_collector() emit families computed at
 * scrape time through the bk_mexp_* writer, after the stored families.
 *
 * bk_mhttp_parse() is the request parser, a pure function over bytes
 * (fuzzed by tests/unit/test_broker_units.c).
 *
 * Threading: none inside; a registry belongs to one thread.
 */
#ifndef BK_PROM_H
#define BK_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* ------------------------------ registry ------------------------------ */

#define BK_M_MAX_LABELS  3
#define BK_M_MAX_BUCKETS 24

typedef enum bk_mtype {
    BK_M_COUNTER,
    BK_M_GAUGE,
    BK_M_HISTOGRAM,
} bk_mtype;

typedef struct bk_mreg bk_mreg;
typedef struct bk_mfam bk_mfam;
typedef struct bk_mser bk_mser;

/* One series.  Counters count in u (exact integers); gauges hold v;
 * histograms count observations in u, their sum in v and per-bucket
 * (non-cumulative) counts in buckets[0..nbounds], the last one being
 * +Inf. */
struct bk_mser {
    bk_mfam *fam;
    char *lv[BK_M_MAX_LABELS]; /* label values (owned) */
    uint64_t u;
    double v;
    uint64_t *buckets; /* histograms only (owned) */
    bk_mser *prev, *next;
};

/* Emits scrape-time families into out with bk_mexp_family/_sample. */
typedef void bk_mcollect_fn(bk_buf *out, void *arg);

/* A new, empty registry.  NULL on allocation failure. */
bk_mreg *bk_mreg_new(void);
/* Frees the registry, its families and their series. */
void bk_mreg_free(bk_mreg *r);

/* Registers a family.  name must be a legal metric name, unique in the
 * registry (asserted); help, name and the label names are not copied.
 * Histograms take nbounds strictly increasing finite bucket bounds
 * (+Inf is implicit).  NULL on allocation failure. */
bk_mfam *bk_mreg_family(bk_mreg *r, bk_mtype type, const char *name,
                        const char *help, const char *const *labels,
                        size_t nlabels, const double *bounds, size_t nbounds);
/* The series of f with these label values (f's nlabels of them; copied),
 * created at zero when new.  NULL on allocation failure: the hooks accept
 * a NULL series and do nothing. */
bk_mser *bk_mfam_series(bk_mfam *f, const char *const *values);
/* Removes and frees a series (NULL is fine). */
void bk_mser_remove(bk_mser *s);
/* Adds a collector, run at every render after the stored families. */
int bk_mreg_collector(bk_mreg *r, bk_mcollect_fn *fn, void *arg);

static inline void bk_mser_add(bk_mser *s, uint64_t n)
{
    if (s)
        s->u += n;
}
static inline void bk_mser_set(bk_mser *s, double v)
{
    if (s)
        s->v = v;
}
/* Records one observation of a histogram series. */
void bk_mser_observe(bk_mser *s, double v);

/* Renders every family and collector into out (appended).  0, or
 * -BK_ENOMEM (out then holds a partial text: do not serve it). */
int bk_mreg_render(bk_mreg *r, bk_buf *out);

/* The exposition writer, for collectors.  A family header (HELP and TYPE
 * lines; type is "counter", "gauge" or "histogram"), then its samples:
 * name{ln[0]="lv[0]",...} value.  Label values and help text are
 * escaped. */
void bk_mexp_family(bk_buf *out, bk_mtype type, const char *name,
                    const char *help);
void bk_mexp_sample(bk_buf *out, const char *name, const char *const *ln,
                    const char *const *lv, size_t n, double v);
/* Same with an exact integer value. */
void bk_mexp_sample_u64(bk_buf *out, const char *name, const char *const *ln,
                        const char *const *lv, size_t n, uint64_t v);
void bk_mexp_sample_i64(bk_buf *out, const char *name, const char *const *ln,
                        const char *const *lv, size_t n, int64_t v);

/* ---------------------------- HTTP parser ---------------------------- */

#define BK_MHTTP_MAX_REQUEST 8192 /* request line + headers */
#define BK_MHTTP_MAX_CONNS   1024
#define BK_MHTTP_IDLE_MS                                                       \
    10000 /* the whole request head must arrive                                \
             within this; the answer must be taken                             \
             within it too */

/* What bk_mhttp_parse decided about a request head. */
typedef struct bk_mhttp_req {
    int status;      /* 200, 400, 404, 405, 431 or 505 */
    bool head;       /* HEAD: no body in the answer */
    size_t consumed; /* bytes of the head (request line to blank line) */
} bk_mhttp_req;

/* Parses the request head in p[0..n).  BK_AGAIN while the head is not
 * complete and n < BK_MHTTP_MAX_REQUEST; otherwise 0 with *out set (a
 * status other than 200 for anything wrong or not served).  Never reads
 * past p[n-1]; any bytes are fine. */
int bk_mhttp_parse(const uint8_t *p, size_t n, bk_mhttp_req *out);

#endif
