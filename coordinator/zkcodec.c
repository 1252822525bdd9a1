/*
 * zkcodec.c -- Kafka's znode paths and payloads.  See zkcodec.h.
 *
 * Decoders share one shape: parse with common/json (strict, bounded), then
 * read each field through small typed getters that fail with a message
 * naming the field; every failure leaves through the function's single
 * error exit with -BK_ECORRUPT (STYLE.md rule 6).
 */
#include "coordinator/zkcodec.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/err.h"
#include "common/json.h"

/* ------------------------------ paths ------------------------------ */

static int pathf(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, BK_ZKC_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= BK_ZKC_PATH_MAX) {
        out[0] = '\0';
        return -BK_ETOOBIG;
    }
    return 0;
}

int bk_zkc_path_broker(char *out, int32_t id)
{
    return pathf(out, BK_ZKC_BROKERS_IDS "/%" PRId32, id);
}

int bk_zkc_path_topic(char *out, const char *topic)
{
    return pathf(out, BK_ZKC_BROKERS_TOPICS "/%s", topic);
}

int bk_zkc_path_partitions(char *out, const char *topic)
{
    return pathf(out, BK_ZKC_BROKERS_TOPICS "/%s/partitions", topic);
}

int bk_zkc_path_partition(char *out, const char *topic, int32_t p)
{
    return pathf(out, BK_ZKC_BROKERS_TOPICS "/%s/partitions/%" PRId32, topic,
                 p);
}

int bk_zkc_path_partition_state(char *out, const char *topic, int32_t p)
{
    return pathf(out, BK_ZKC_BROKERS_TOPICS "/%s/partitions/%" PRId32 "/state",
                 topic, p);
}

int bk_zkc_path_topic_config(char *out, const char *topic)
{
    return pathf(out, BK_ZKC_CONFIG_TOPICS "/%s", topic);
}

int bk_zkc_path_entity_config(char *out, const char *entity_type,
                              const char *entity_name)
{
    return pathf(out, "/config/%s/%s", entity_type, entity_name);
}

int bk_zkc_path_delete_topic(char *out, const char *topic)
{
    return pathf(out, BK_ZKC_DELETE_TOPICS "/%s", topic);
}

int bk_zkc_path_consumer_offset(char *out, const char *group, const char *topic,
                                int32_t p)
{
    return pathf(out, BK_ZKC_CONSUMERS "/%s/offsets/%s/%" PRId32, group, topic,
                 p);
}

/* ------------------------- decoding helpers ------------------------- */

/* Parses a payload; -BK_ECORRUPT with "<what>: <parser message>". */
static int parse_doc(const void *data, size_t len, const char *what,
                     bk_json **root, char *err, size_t errlen)
{
    char jerr[160];
    int rc = bk_json_parse(data, len, NULL, root, jerr, sizeof jerr);
    if (rc == -BK_ENOMEM)
        return rc;
    if (rc) {
        bk_errf(err, errlen, "%s: invalid JSON (%s)", what, jerr);
        return -BK_ECORRUPT;
    }
    if (!bk_json_is(*root, BK_JSON_OBJECT)) {
        bk_errf(err, errlen, "%s: not a JSON object", what);
        bk_json_free(*root);
        *root = NULL;
        return -BK_ECORRUPT;
    }
    return 0;
}

/* Field getters: 0, or -BK_ECORRUPT with a message naming the field. */
static int get_i32(const bk_json *obj, const char *key, int32_t *out,
                   int32_t min, const char *what, char *err, size_t errlen)
{
    const bk_json *v = bk_json_get(obj, key);
    if (!v) {
        bk_errf(err, errlen, "%s: missing \"%s\"", what, key);
        return -BK_ECORRUPT;
    }
    if (bk_json_int32(v, out) != 0 || *out < min) {
        bk_errf(err, errlen, "%s: \"%s\" is not an integer >= %" PRId32, what,
                key, min);
        return -BK_ECORRUPT;
    }
    return 0;
}

/* A string field copied into out[outlen]; absent or null allowed when
 * optional (then *present is false and out is ""). */
static int get_str(const bk_json *obj, const char *key, char *out,
                   size_t outlen, bool optional, bool *present,
                   const char *what, char *err, size_t errlen)
{
    const bk_json *v = bk_json_get(obj, key);
    out[0] = '\0';
    if (present)
        *present = false;
    if (!v || bk_json_is(v, BK_JSON_NULL)) {
        if (optional)
            return 0;
        bk_errf(err, errlen, "%s: missing \"%s\"", what, key);
        return -BK_ECORRUPT;
    }
    const char *s = bk_json_cstr(v);
    if (!s) {
        bk_errf(err, errlen, "%s: \"%s\" is not a string", what, key);
        return -BK_ECORRUPT;
    }
    size_t n = strlen(s);
    if (n >= outlen) {
        bk_errf(err, errlen, "%s: \"%s\" is too long", what, key);
        return -BK_ECORRUPT;
    }
    memcpy(out, s, n + 1);
    if (present)
        *present = true;
    return 0;
}

/* An array of distinct int32 ids >= 0 with 1..max (or 0..max when
 * allow_empty) elements. */
static int get_ids(const bk_json *arr, int32_t *out, int32_t *n, int max,
                   bool allow_empty, const char *what, const char *field,
                   char *err, size_t errlen)
{
    if (!bk_json_is(arr, BK_JSON_ARRAY)) {
        bk_errf(err, errlen, "%s: \"%s\" is not an array", what, field);
        return -BK_ECORRUPT;
    }
    size_t len = bk_json_len(arr);
    if ((len == 0 && !allow_empty) || len > (size_t)max) {
        bk_errf(err, errlen, "%s: \"%s\" has %zu entries (allowed %d..%d)",
                what, field, len, allow_empty ? 0 : 1, max);
        return -BK_ECORRUPT;
    }
    for (size_t i = 0; i < len; i++) {
        int32_t id;
        if (bk_json_int32(bk_json_at(arr, i), &id) != 0 || id < 0) {
            bk_errf(err, errlen, "%s: \"%s\" holds a bad broker id", what,
                    field);
            return -BK_ECORRUPT;
        }
        for (size_t j = 0; j < i; j++) {
            if (out[j] == id) {
                bk_errf(err, errlen,
                        "%s: \"%s\" lists broker %" PRId32 " twice", what,
                        field, id);
                return -BK_ECORRUPT;
            }
        }
        out[i] = id;
    }
    *n = (int32_t)len;
    return 0;
}

bool bk_zkc_parse_id(const char *s, int32_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static int finish_write(bk_json_w *w)
{
    if (!bk_buf_ok(w->b))
        return -BK_ENOMEM;
    return bk_json_w_ok(w) ? 0 : -BK_EINVAL;
}

/* ------------------------ broker registration ------------------------ */

void bk_zkc_endpoint_string(const bk_zkc_endpoint *e, char *out, size_t outlen)
{
    /* IPv6 literals are bracketed, as Kafka's Utils.formatAddress does */
    bool v6 = strchr(e->host, ':') != NULL;
    snprintf(out, outlen, "%s://%s%s%s:%" PRId32, e->listener, v6 ? "[" : "",
             e->host, v6 ? "]" : "", e->port);
}

int bk_zkc_broker_encode(const bk_zkc_broker *b, bk_buf *out)
{
    const bk_zkc_endpoint *plain = NULL;
    for (int i = 0; i < b->nendpoints && !plain; i++)
        if (strcmp(b->endpoints[i].protocol, "PLAINTEXT") == 0)
            plain = &b->endpoints[i];
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 4);
    /* top-level host/port: for clients that only know PLAINTEXT */
    bk_json_w_key(&w, "host");
    if (plain)
        bk_json_w_str(&w, plain->host);
    else
        bk_json_w_null(&w);
    bk_json_w_key(&w, "port");
    bk_json_w_int(&w, plain ? plain->port : -1);
    bk_json_w_key(&w, "endpoints");
    bk_json_w_arr_begin(&w);
    char ep[400];
    for (int i = 0; i < b->nendpoints; i++) {
        bk_zkc_endpoint_string(&b->endpoints[i], ep, sizeof ep);
        bk_json_w_str(&w, ep);
    }
    bk_json_w_arr_end(&w);
    bk_json_w_key(&w, "listener_security_protocol_map");
    bk_json_w_obj_begin(&w);
    for (int i = 0; i < b->nendpoints; i++) {
        bk_json_w_key(&w, b->endpoints[i].listener);
        bk_json_w_str(&w, b->endpoints[i].protocol);
    }
    bk_json_w_obj_end(&w);
    bk_json_w_key(&w, "jmx_port");
    bk_json_w_int(&w, b->jmx_port);
    bk_json_w_key(&w, "rack");
    if (b->has_rack)
        bk_json_w_str(&w, b->rack);
    else
        bk_json_w_null(&w);
    bk_json_w_key(&w, "timestamp");
    char ts[24];
    snprintf(ts, sizeof ts, "%" PRId64, b->timestamp);
    bk_json_w_str(&w, ts);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

static bool is_security_protocol(const char *s)
{
    return strcmp(s, "PLAINTEXT") == 0 || strcmp(s, "SSL") == 0 ||
           strcmp(s, "SASL_PLAINTEXT") == 0 || strcmp(s, "SASL_SSL") == 0;
}

/* "LISTENER://host:port" or "LISTENER://[v6]:port". */
static int parse_endpoint(const char *s, const bk_json *map, bk_zkc_endpoint *e,
                          char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    const char *sep = strstr(s, "://");
    const char *colon = strrchr(s, ':');
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof e->listener || !colon ||
        colon < sep + 3)
        goto bad;
    memcpy(e->listener, s, (size_t)(sep - s));
    const char *h = sep + 3;
    size_t hl = (size_t)(colon - h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof e->host)
        goto bad;
    memcpy(e->host, h, hl);
    if (!bk_zkc_parse_id(colon + 1, &e->port) || e->port > 65535)
        goto bad;
    if (map) {
        const char *p = bk_json_cstr(bk_json_get(map, e->listener));
        if (!p || strlen(p) >= sizeof e->protocol) {
            bk_errf(err, errlen,
                    "broker registration: listener %s has no security "
                    "protocol",
                    e->listener);
            return -BK_ECORRUPT;
        }
        strcpy(e->protocol, p);
    } else {
        /* before the map existed, listener names were protocol names */
        if (!is_security_protocol(e->listener))
            goto bad;
        strcpy(e->protocol, e->listener);
    }
    return 0;
bad:
    bk_errf(err, errlen, "broker registration: bad endpoint \"%.300s\"", s);
    return -BK_ECORRUPT;
}

int bk_zkc_broker_decode(int32_t id, const void *data, size_t len,
                         bk_zkc_broker *out, char *err, size_t errlen)
{
    const char *what = "broker registration";
    memset(out, 0, sizeof *out);
    out->id = id;
    out->port = -1;
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    int32_t v;
    if ((rc = get_i32(r, "version", &v, 1, what, err, errlen)) != 0)
        goto out;
    out->version = v;
    if ((rc = get_i32(r, "jmx_port", &out->jmx_port, -1, what, err, errlen)) !=
        0)
        goto out;
    bool has_host;
    if ((rc = get_str(r, "host", out->host, sizeof out->host, v >= 2, &has_host,
                      what, err, errlen)) != 0)
        goto out;
    if (has_host || v == 1) {
        if ((rc = get_i32(r, "port", &out->port, -1, what, err, errlen)) != 0)
            goto out;
    }
    if ((rc = get_str(r, "rack", out->rack, sizeof out->rack, true,
                      &out->has_rack, what, err, errlen)) != 0)
        goto out;
    const bk_json *ts = bk_json_get(r, "timestamp");
    if (ts) {
        const char *s = bk_json_cstr(ts);
        char *end;
        errno = 0;
        long long t = s ? strtoll(s, &end, 10) : 0;
        if (!s || *end || end == s || errno) {
            bk_errf(err, errlen, "%s: bad \"timestamp\"", what);
            rc = -BK_ECORRUPT;
            goto out;
        }
        out->timestamp = t;
    }
    if (v == 1) {
        /* version 1: one PLAINTEXT endpoint from host and port */
        bk_zkc_endpoint *e = &out->endpoints[0];
        strcpy(e->listener, "PLAINTEXT");
        strcpy(e->protocol, "PLAINTEXT");
        memcpy(e->host, out->host, sizeof e->host);
        e->port = out->port;
        out->nendpoints = 1;
        goto out;
    }
    const bk_json *eps = bk_json_get(r, "endpoints");
    const bk_json *map = bk_json_get(r, "listener_security_protocol_map");
    if (map && !bk_json_is(map, BK_JSON_OBJECT)) {
        bk_errf(err, errlen, "%s: bad \"listener_security_protocol_map\"",
                what);
        rc = -BK_ECORRUPT;
        goto out;
    }
    if (!bk_json_is(eps, BK_JSON_ARRAY) || bk_json_len(eps) == 0 ||
        bk_json_len(eps) > BK_ZKC_MAX_ENDPOINTS) {
        bk_errf(err, errlen,
                "%s: \"endpoints\" must be an array of 1..%d "
                "strings",
                what, BK_ZKC_MAX_ENDPOINTS);
        rc = -BK_ECORRUPT;
        goto out;
    }
    for (size_t i = 0; i < bk_json_len(eps); i++) {
        const char *s = bk_json_cstr(bk_json_at(eps, i));
        if (!s) {
            bk_errf(err, errlen, "%s: \"endpoints\" holds a non-string", what);
            rc = -BK_ECORRUPT;
            goto out;
        }
        rc = parse_endpoint(s, map, &out->endpoints[i], err, errlen);
        if (rc)
            goto out;
        out->nendpoints++;
    }
out:
    bk_json_free(r);
    return rc;
}

/* ------------------------- topic assignment ------------------------- */

void bk_zkc_assignment_free(bk_zkc_assignment *a)
{
    free(a->parts);
    free(a->pool);
    memset(a, 0, sizeof *a);
}

int bk_zkc_assignment_init(bk_zkc_assignment *a, int32_t nparts, int rf,
                           const int32_t *ids)
{
    memset(a, 0, sizeof *a);
    assert(nparts >= 0 && rf >= 1);
    a->version = 1;
    a->nparts = nparts;
    if (nparts == 0)
        return 0;
    a->parts = calloc((size_t)nparts, sizeof *a->parts);
    a->pool = malloc((size_t)nparts * (size_t)rf * sizeof *a->pool);
    if (!a->parts || !a->pool) {
        bk_zkc_assignment_free(a);
        return -BK_ENOMEM;
    }
    memcpy(a->pool, ids, (size_t)nparts * (size_t)rf * sizeof *a->pool);
    for (int32_t p = 0; p < nparts; p++) {
        a->parts[p].id = p;
        a->parts[p].nreplicas = rf;
        a->parts[p].replicas = a->pool + (size_t)p * (size_t)rf;
    }
    return 0;
}

const bk_zkc_part *bk_zkc_assignment_find(const bk_zkc_assignment *a,
                                          int32_t id)
{
    /* parts are sorted by id: binary search */
    int32_t lo = 0, hi = a->nparts;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (a->parts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->nparts && a->parts[lo].id == id ? &a->parts[lo] : NULL;
}

static void write_id_map(bk_json_w *w, const bk_zkc_assignment *a, int which)
{
    char k[16];
    bk_json_w_obj_begin(w);
    for (int32_t i = 0; i < a->nparts; i++) {
        const bk_zkc_part *p = &a->parts[i];
        const int32_t *ids = which == 0   ? p->replicas
                             : which == 1 ? p->adding
                                          : p->removing;
        int32_t n = which == 0   ? p->nreplicas
                    : which == 1 ? p->nadding
                                 : p->nremoving;
        if (which != 0 && n == 0)
            continue;
        snprintf(k, sizeof k, "%" PRId32, p->id);
        bk_json_w_key(w, k);
        bk_json_w_arr_begin(w);
        for (int32_t r = 0; r < n; r++)
            bk_json_w_int(w, ids[r]);
        bk_json_w_arr_end(w);
    }
    bk_json_w_obj_end(w);
}

int bk_zkc_assignment_encode(const bk_zkc_assignment *a, bk_buf *out)
{
    bool moving = false;
    for (int32_t i = 0; i < a->nparts; i++)
        moving |= a->parts[i].nadding > 0 || a->parts[i].nremoving > 0;
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, moving ? 2 : 1);
    bk_json_w_key(&w, "partitions");
    write_id_map(&w, a, 0);
    if (moving) {
        bk_json_w_key(&w, "adding_replicas");
        write_id_map(&w, a, 1);
        bk_json_w_key(&w, "removing_replicas");
        write_id_map(&w, a, 2);
    }
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

/* Pool room for an id list: its length, at most BK_TOPIC_MAX_RF. */
static size_t ids_room(const bk_json *a)
{
    size_t n = bk_json_is(a, BK_JSON_ARRAY) ? bk_json_len(a) : 0;
    return n < BK_TOPIC_MAX_RF ? n : BK_TOPIC_MAX_RF;
}

static int cmp_part(const void *x, const void *y)
{
    const bk_zkc_part *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

int bk_zkc_assignment_decode(const void *data, size_t len,
                             bk_zkc_assignment *out, char *err, size_t errlen)
{
    const char *what = "topic assignment";
    memset(out, 0, sizeof *out);
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    int32_t v;
    if ((rc = get_i32(r, "version", &v, 1, what, err, errlen)) != 0)
        goto fail;
    out->version = v;
    if ((rc = get_str(r, "topic_id", out->topic_id, sizeof out->topic_id, true,
                      NULL, what, err, errlen)) != 0)
        goto fail;
    const bk_json *parts = bk_json_get(r, "partitions");
    const bk_json *adding = bk_json_get(r, "adding_replicas");
    const bk_json *removing = bk_json_get(r, "removing_replicas");
    if (!bk_json_is(parts, BK_JSON_OBJECT) ||
        (adding && !bk_json_is(adding, BK_JSON_OBJECT)) ||
        (removing && !bk_json_is(removing, BK_JSON_OBJECT))) {
        bk_errf(err, errlen,
                "%s: \"partitions\" (and \"adding_replicas\", "
                "\"removing_replicas\") must be objects",
                what);
        rc = -BK_ECORRUPT;
        goto fail;
    }
    size_t n = bk_json_len(parts);
    if (n > INT32_MAX) {
        bk_errf(err, errlen, "%s: too many partitions", what);
        rc = -BK_ECORRUPT;
        goto fail;
    }
    out->nparts = (int32_t)n;
    /* one pool sized for every list (each bounded by BK_TOPIC_MAX_RF;
     * get_ids rejects longer ones before writing) */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const bk_json *m = bk_json_at(parts, i);
        total += ids_room(m) + ids_room(bk_json_get(adding, bk_json_key(m))) +
                 ids_room(bk_json_get(removing, bk_json_key(m)));
    }
    if (n) {
        out->parts = calloc(n, sizeof *out->parts);
        out->pool = malloc((total ? total : 1) * sizeof *out->pool);
        if (!out->parts || !out->pool) {
            rc = -BK_ENOMEM;
            goto fail;
        }
    }
    int32_t *cursor = out->pool;
    for (size_t i = 0; i < n; i++) {
        const bk_json *m = bk_json_at(parts, i);
        bk_zkc_part *p = &out->parts[i];
        /* a key with a NUL ("0\u0000") would read as another key's id */
        if (strlen(bk_json_key(m)) != m->keylen ||
            !bk_zkc_parse_id(bk_json_key(m), &p->id)) {
            bk_errf(err, errlen, "%s: bad partition id \"%.20s\"", what,
                    bk_json_key(m));
            rc = -BK_ECORRUPT;
            goto fail;
        }
        const char *k = bk_json_key(m);
        const bk_json *ad = bk_json_get(adding, k);
        const bk_json *rm = bk_json_get(removing, k);
        p->replicas = cursor;
        cursor += ids_room(m);
        p->adding = cursor;
        cursor += ids_room(ad);
        p->removing = cursor;
        cursor += ids_room(rm);
        assert(cursor <= out->pool + total);
        if ((rc = get_ids(m, p->replicas, &p->nreplicas, BK_TOPIC_MAX_RF, false,
                          what, k, err, errlen)) != 0)
            goto fail;
        if (ad &&
            (rc = get_ids(ad, p->adding, &p->nadding, BK_TOPIC_MAX_RF, true,
                          what, "adding_replicas", err, errlen)) != 0)
            goto fail;
        if (rm &&
            (rc = get_ids(rm, p->removing, &p->nremoving, BK_TOPIC_MAX_RF, true,
                          what, "removing_replicas", err, errlen)) != 0)
            goto fail;
    }
    if (n)
        qsort(out->parts, n, sizeof *out->parts, cmp_part);
    /* keys are unique strings, and canonical ids make ids unique too */
    bk_json_free(r);
    return 0;
fail:
    bk_json_free(r);
    bk_zkc_assignment_free(out);
    return rc;
}

/* ------------------------- partition state ------------------------- */

int bk_zkc_pstate_encode(const bk_zkc_pstate *s, bk_buf *out)
{
    assert(s->nisr >= 0 && s->nisr <= BK_TOPIC_MAX_RF);
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "controller_epoch");
    bk_json_w_int(&w, s->controller_epoch);
    bk_json_w_key(&w, "leader");
    bk_json_w_int(&w, s->leader);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "leader_epoch");
    bk_json_w_int(&w, s->leader_epoch);
    bk_json_w_key(&w, "isr");
    bk_json_w_arr_begin(&w);
    for (int32_t i = 0; i < s->nisr; i++)
        bk_json_w_int(&w, s->isr[i]);
    bk_json_w_arr_end(&w);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

int bk_zkc_pstate_decode(const void *data, size_t len, bk_zkc_pstate *out,
                         char *err, size_t errlen)
{
    const char *what = "partition state";
    memset(out, 0, sizeof *out);
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    if ((rc = get_i32(r, "leader", &out->leader, -1, what, err, errlen)) ||
        (rc = get_i32(r, "leader_epoch", &out->leader_epoch, 0, what, err,
                      errlen)) ||
        (rc = get_i32(r, "controller_epoch", &out->controller_epoch, 0, what,
                      err, errlen)))
        goto out;
    const bk_json *isr = bk_json_get(r, "isr");
    if (!isr) {
        bk_errf(err, errlen, "%s: missing \"isr\"", what);
        rc = -BK_ECORRUPT;
        goto out;
    }
    /* an empty ISR is legal: every replica fell out (leader -1) */
    rc = get_ids(isr, out->isr, &out->nisr, BK_TOPIC_MAX_RF, true, what, "isr",
                 err, errlen);
out:
    bk_json_free(r);
    return rc;
}

/* ----------------------- controller and epoch ----------------------- */

int bk_zkc_controller_encode(int32_t broker_id, int64_t timestamp_ms,
                             bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "brokerid");
    bk_json_w_int(&w, broker_id);
    bk_json_w_key(&w, "timestamp");
    char ts[24];
    snprintf(ts, sizeof ts, "%" PRId64, timestamp_ms);
    bk_json_w_str(&w, ts);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

int bk_zkc_controller_decode(const void *data, size_t len, int32_t *broker_id,
                             char *err, size_t errlen)
{
    bk_json *r = NULL;
    int rc = parse_doc(data, len, "controller", &r, err, errlen);
    if (rc)
        return rc;
    rc = get_i32(r, "brokerid", broker_id, 0, "controller", err, errlen);
    bk_json_free(r);
    return rc;
}

int bk_zkc_controller_epoch_encode(int32_t epoch, bk_buf *out)
{
    char t[16];
    int n = snprintf(t, sizeof t, "%" PRId32, epoch);
    bk_buf_put(out, t, (size_t)n);
    return bk_buf_ok(out) ? 0 : -BK_ENOMEM;
}

int bk_zkc_controller_epoch_decode(const void *data, size_t len, int32_t *epoch)
{
    char t[16];
    if (len == 0 || len >= sizeof t)
        return -BK_ECORRUPT;
    memcpy(t, data, len);
    t[len] = '\0';
    return bk_zkc_parse_id(t, epoch) ? 0 : -BK_ECORRUPT;
}

/* ---------------------------- topic config ---------------------------- */

void bk_zkc_config_free(bk_zkc_config *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->kv[i].key);
        free(c->kv[i].value);
    }
    free(c->kv);
    c->kv = NULL;
    c->n = 0;
}

int bk_zkc_config_add(bk_zkc_config *c, const char *key, const char *value)
{
    bk_zkc_kv *nkv = realloc(c->kv, (c->n + 1) * sizeof *nkv);
    if (!nkv)
        return -BK_ENOMEM;
    c->kv = nkv;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -BK_ENOMEM;
    }
    c->kv[c->n].key = k;
    c->kv[c->n].value = v;
    c->n++;
    return 0;
}

const char *bk_zkc_config_get(const bk_zkc_config *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->kv[i].key, key) == 0)
            return c->kv[i].value;
    return NULL;
}

int bk_zkc_config_encode(const bk_zkc_config *c, bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "config");
    bk_json_w_obj_begin(&w);
    for (size_t i = 0; i < c->n; i++) {
        bk_json_w_key(&w, c->kv[i].key);
        bk_json_w_str(&w, c->kv[i].value);
    }
    bk_json_w_obj_end(&w);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

static int cmp_kv(const void *x, const void *y)
{
    return strcmp(((const bk_zkc_kv *)x)->key, ((const bk_zkc_kv *)y)->key);
}

int bk_zkc_config_decode(const void *data, size_t len, bk_zkc_config *out,
                         char *err, size_t errlen)
{
    const char *what = "topic config";
    memset(out, 0, sizeof *out);
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    const bk_json *cfg = bk_json_get(r, "config");
    if (cfg && !bk_json_is(cfg, BK_JSON_OBJECT)) {
        bk_errf(err, errlen, "%s: \"config\" is not an object", what);
        rc = -BK_ECORRUPT;
        goto out;
    }
    for (size_t i = 0; i < bk_json_len(cfg); i++) {
        const bk_json *m = bk_json_at(cfg, i);
        const char *v = bk_json_cstr(m);
        if (!v || strlen(bk_json_key(m)) != m->keylen) {
            bk_errf(err, errlen, "%s: value of \"%.100s\" is not a string",
                    what, bk_json_key(m));
            rc = -BK_ECORRUPT;
            goto out;
        }
        if ((rc = bk_zkc_config_add(out, bk_json_key(m), v)) != 0)
            goto out;
    }
    if (out->n)
        qsort(out->kv, out->n, sizeof *out->kv, cmp_kv);
out:
    bk_json_free(r);
    if (rc)
        bk_zkc_config_free(out);
    return rc;
}

int bk_zkc_config_change_encode(const char *entity_path, bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 2);
    bk_json_w_key(&w, "entity_path");
    bk_json_w_str(&w, entity_path);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

int bk_zkc_config_change_decode(const void *data, size_t len, char *entity_path,
                                size_t pathlen, char *err, size_t errlen)
{
    const char *what = "config change";
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    int32_t v;
    if ((rc = get_i32(r, "version", &v, 1, what, err, errlen)) != 0)
        goto out;
    if (v == 1) {
        char type[64], name[BK_TOPIC_NAME_MAX + 1];
        if ((rc = get_str(r, "entity_type", type, sizeof type, false, NULL,
                          what, err, errlen)) ||
            (rc = get_str(r, "entity_name", name, sizeof name, false, NULL,
                          what, err, errlen)))
            goto out;
        int n = snprintf(entity_path, pathlen, "%s/%s", type, name);
        if (n < 0 || (size_t)n >= pathlen) {
            bk_errf(err, errlen, "%s: entity path too long", what);
            rc = -BK_ECORRUPT;
        }
    } else {
        rc = get_str(r, "entity_path", entity_path, pathlen, false, NULL, what,
                     err, errlen);
    }
out:
    bk_json_free(r);
    return rc;
}

int64_t bk_zkc_config_change_seq(const char *name)
{
    static const char prefix[] = "config_change_";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *d = name + sizeof prefix - 1;
    int64_t v = 0;
    if (!*d)
        return -1;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*d - '0');
    }
    return v;
}

/* ------------------- ISR change notification ------------------- */

int bk_zkc_isr_change_encode(const bk_zkc_tp *tps, size_t n, bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "partitions");
    bk_json_w_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        bk_json_w_obj_begin(&w);
        bk_json_w_key(&w, "topic");
        bk_json_w_str(&w, tps[i].topic);
        bk_json_w_key(&w, "partition");
        bk_json_w_int(&w, tps[i].partition);
        bk_json_w_obj_end(&w);
    }
    bk_json_w_arr_end(&w);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

/* {"version":1,"partitions":[{"topic":..,"partition":..}]}, shared by
 * the ISR change notification and the preferred replica election. */
static int tps_decode(const char *what, const void *data, size_t len,
                      bk_zkc_tp **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    const bk_json *parts = bk_json_get(r, "partitions");
    if (!bk_json_is(parts, BK_JSON_ARRAY)) {
        bk_errf(err, errlen, "%s: \"partitions\" is not an array", what);
        rc = -BK_ECORRUPT;
        goto out;
    }
    size_t cnt = bk_json_len(parts);
    bk_zkc_tp *tps = cnt ? calloc(cnt, sizeof *tps) : NULL;
    if (cnt && !tps) {
        rc = -BK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cnt; i++) {
        const bk_json *e = bk_json_at(parts, i);
        if ((rc = get_str(e, "topic", tps[i].topic, sizeof tps[i].topic, false,
                          NULL, what, err, errlen)) ||
            (rc = get_i32(e, "partition", &tps[i].partition, 0, what, err,
                          errlen))) {
            free(tps);
            goto out;
        }
    }
    *out = tps;
    *n = cnt;
out:
    bk_json_free(r);
    return rc;
}

int bk_zkc_isr_change_decode(const void *data, size_t len, bk_zkc_tp **out,
                             size_t *n, char *err, size_t errlen)
{
    return tps_decode("ISR change notification", data, len, out, n, err,
                      errlen);
}

int bk_zkc_preferred_encode(const bk_zkc_tp *tps, size_t n, bk_buf *out)
{
    return bk_zkc_isr_change_encode(tps, n, out); /* the same JSON */
}

int bk_zkc_preferred_decode(const void *data, size_t len, bk_zkc_tp **out,
                            size_t *n, char *err, size_t errlen)
{
    return tps_decode("preferred replica election", data, len, out, n, err,
                      errlen);
}

/* ------------------- partition reassignment ------------------- */

int bk_zkc_reassign_encode(const bk_zkc_reassign *v, size_t n, bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "partitions");
    bk_json_w_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        assert(v[i].nreplicas >= 0 && v[i].nreplicas <= BK_TOPIC_MAX_RF);
        bk_json_w_obj_begin(&w);
        bk_json_w_key(&w, "topic");
        bk_json_w_str(&w, v[i].topic);
        bk_json_w_key(&w, "partition");
        bk_json_w_int(&w, v[i].partition);
        bk_json_w_key(&w, "replicas");
        bk_json_w_arr_begin(&w);
        for (int32_t r = 0; r < v[i].nreplicas; r++)
            bk_json_w_int(&w, v[i].replicas[r]);
        bk_json_w_arr_end(&w);
        bk_json_w_obj_end(&w);
    }
    bk_json_w_arr_end(&w);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

/* One entry of a reassignment; messages name it ("t-0", or its index
 * while the name is not known yet). */
static int reassign_entry(const bk_json *e, size_t i, bk_zkc_reassign *out,
                          char *err, size_t errlen)
{
    const char *what = "reassignment";
    char at[64];
    snprintf(at, sizeof at, "%s: partitions[%zu]", what, i);
    if (!bk_json_is(e, BK_JSON_OBJECT)) {
        bk_errf(err, errlen, "%s is not an object", at);
        return -BK_ECORRUPT;
    }
    int rc = get_str(e, "topic", out->topic, sizeof out->topic, false, NULL, at,
                     err, errlen);
    if (rc == 0 && out->topic[0] == '\0') {
        bk_errf(err, errlen, "%s: \"topic\" is empty", at);
        rc = -BK_ECORRUPT;
    }
    /* The name goes into znode paths: "..", "a/b" must not. */
    char why[200];
    if (rc == 0 && bk_topic_validate_name(out->topic, why, sizeof why) != 0) {
        bk_errf(err, errlen, "%s: %s", at, why);
        rc = -BK_ECORRUPT;
    }
    if (rc == 0)
        rc = get_i32(e, "partition", &out->partition, 0, at, err, errlen);
    if (rc)
        return rc;
    const bk_json *reps = bk_json_get(e, "replicas");
    if (!bk_json_is(reps, BK_JSON_ARRAY)) {
        bk_errf(err, errlen, "%s: %s-%" PRId32 ": \"replicas\" is %s", what,
                out->topic, out->partition, reps ? "not an array" : "missing");
        return -BK_ECORRUPT;
    }
    size_t n = bk_json_len(reps);
    if (n == 0 || n > BK_TOPIC_MAX_RF) {
        if (n == 0)
            bk_errf(err, errlen,
                    "%s: %s-%" PRId32 ": the replica list is empty", what,
                    out->topic, out->partition);
        else
            bk_errf(err, errlen, "%s: %s-%" PRId32 ": more than %d replicas",
                    what, out->topic, out->partition, BK_TOPIC_MAX_RF);
        return -BK_ECORRUPT;
    }
    for (size_t r = 0; r < n; r++) {
        int32_t id;
        if (bk_json_int32(bk_json_at(reps, r), &id) != 0 || id < 0) {
            bk_errf(err, errlen,
                    "%s: %s-%" PRId32 ": replica %zu is not a broker id "
                    "(an integer >= 0)",
                    what, out->topic, out->partition, r + 1);
            return -BK_ECORRUPT;
        }
        for (size_t k = 0; k < r; k++) {
            if (out->replicas[k] == id) {
                bk_errf(err, errlen,
                        "%s: %s-%" PRId32 ": broker %" PRId32
                        " is listed twice in the replicas",
                        what, out->topic, out->partition, id);
                return -BK_ECORRUPT;
            }
        }
        out->replicas[r] = id;
    }
    out->nreplicas = (int32_t)n;
    return 0;
}

int bk_zkc_reassign_decode(const void *data, size_t len, bk_zkc_reassign **out,
                           size_t *n, char *err, size_t errlen)
{
    const char *what = "reassignment";
    *out = NULL;
    *n = 0;
    bk_json *r = NULL;
    int rc = parse_doc(data, len, what, &r, err, errlen);
    if (rc)
        return rc;
    int32_t version = 1;
    if (bk_json_get(r, "version") &&
        ((rc = get_i32(r, "version", &version, 1, what, err, errlen)) != 0 ||
         version != 1)) {
        if (rc == 0)
            bk_errf(err, errlen, "%s: unknown \"version\" %" PRId32, what,
                    version);
        rc = -BK_ECORRUPT;
        goto out;
    }
    const bk_json *parts = bk_json_get(r, "partitions");
    if (!bk_json_is(parts, BK_JSON_ARRAY)) {
        bk_errf(err, errlen, "%s: \"partitions\" is %s", what,
                parts ? "not an array" : "missing");
        rc = -BK_ECORRUPT;
        goto out;
    }
    size_t cnt = bk_json_len(parts);
    bk_zkc_reassign *v = cnt ? calloc(cnt, sizeof *v) : NULL;
    if (cnt && !v) {
        rc = -BK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        rc = reassign_entry(bk_json_at(parts, i), i, &v[i], err, errlen);
        for (size_t k = 0; k < i && rc == 0; k++) {
            if (v[k].partition == v[i].partition &&
                strcmp(v[k].topic, v[i].topic) == 0) {
                bk_errf(err, errlen, "%s: %s-%" PRId32 " is listed twice", what,
                        v[i].topic, v[i].partition);
                rc = -BK_ECORRUPT;
            }
        }
    }
    if (rc) {
        free(v);
        goto out;
    }
    *out = v;
    *n = cnt;
out:
    bk_json_free(r);
    return rc;
}

/* ----------------------------- cluster id ----------------------------- */

static int random_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t k = getrandom(b, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -BK_EIO;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int bk_zkc_cluster_id_generate(char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t u[16];
    int rc = random_bytes(u, sizeof u);
    if (rc)
        return rc;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* UUID version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)u[i + 1] << 8;
        if (i + 2 < 16)
            v |= u[i + 2];
        size_t chars = i + 2 < 16 ? 4 : (i + 1 < 16 ? 3 : 2);
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64[(v >> (18 - 6 * k)) & 63];
    }
    assert(o == BK_ZKC_CLUSTER_ID_LEN);
    out[o] = '\0';
    return 0;
}

int bk_zkc_cluster_id_encode(const char *id, bk_buf *out)
{
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_str(&w, "1"); /* a string here, in Kafka's format */
    bk_json_w_key(&w, "id");
    bk_json_w_str(&w, id);
    bk_json_w_obj_end(&w);
    return finish_write(&w);
}

int bk_zkc_cluster_id_decode(const void *data, size_t len, char *id,
                             size_t idlen, char *err, size_t errlen)
{
    bk_json *r = NULL;
    int rc = parse_doc(data, len, "cluster id", &r, err, errlen);
    if (rc)
        return rc;
    rc = get_str(r, "id", id, idlen, false, NULL, "cluster id", err, errlen);
    if (rc == 0 && !id[0]) {
        bk_errf(err, errlen, "cluster id: empty \"id\"");
        rc = -BK_ECORRUPT;
    }
    bk_json_free(r);
    return rc;
}
