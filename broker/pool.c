/*
 * pool.c -- per-request memory pool (see pool.h).
 */
#include "broker/pool.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (16u * 1024)
#define ALIGN alignof(max_align_t)

struct bk_pool_chunk {
    bk_pool_chunk *next;
    alignas(max_align_t) unsigned char data[];
};

static bk_pool_chunk *chunk_new(size_t n)
{
    bk_pool_chunk *c = malloc(sizeof *c + n);
    if (c)
        c->next = NULL;
    return c;
}

void *bk_pool_alloc(bk_pool *p, size_t n)
{
    if (n == 0)
        n = 1;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < n)
        return NULL;
    if (need > CHUNK / 4) {
        /* Big: a chunk of its own, linked behind the current one so the
         * current chunk's free space stays usable. */
        bk_pool_chunk *c = chunk_new(need);
        if (!c)
            return NULL;
        if (p->chunks) {
            c->next = p->chunks->next;
            p->chunks->next = c;
        } else {
            p->chunks = c;
            p->used = p->cap = need;
        }
        memset(c->data, 0, n);
        return c->data;
    }
    if (!p->chunks || p->cap - p->used < need) {
        bk_pool_chunk *c = chunk_new(CHUNK);
        if (!c)
            return NULL;
        c->next = p->chunks;
        p->chunks = c;
        p->used = 0;
        p->cap = CHUNK;
    }
    void *r = p->chunks->data + p->used;
    p->used += need;
    memset(r, 0, n);
    return r;
}

void *bk_pool_calloc(bk_pool *p, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    return bk_pool_alloc(p, n * sz);
}

char *bk_pool_strdup(bk_pool *p, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = bk_pool_alloc(p, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void bk_pool_free(bk_pool *p)
{
    bk_pool_chunk *c = p->chunks;
    while (c) {
        bk_pool_chunk *next = c->next;
        free(c);
        c = next;
    }
    p->chunks = NULL;
    p->used = p->cap = 0;
}
