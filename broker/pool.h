/*
 * pool.h -- a memory pool for one request's scratch data (STYLE.md rule 8,
 * after nginx's pools): the many small protobuf structs of a response are
 * carved out of a few chunks and released together when the response has
 * been encoded, instead of being freed one by one.
 *
 * Large blocks (above a quarter chunk) get their own allocation, still
 * released with the pool.  Memory is zeroed, so protobuf structs only need
 * their __init() for the descriptor.  Allocation failure returns NULL.
 *
 * Single-threaded: a pool belongs to its request.
 */
#ifndef BK_POOL_H
#define BK_POOL_H

#include <stddef.h>

typedef struct bk_pool_chunk bk_pool_chunk;

typedef struct bk_pool {
    bk_pool_chunk *chunks; /* newest first; the first has free space */
    size_t used;           /* bytes used in chunks->data */
    size_t cap;            /* size of chunks->data */
} bk_pool;

#define BK_POOL_INIT                                                           \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

/* Zeroed memory for n bytes (aligned for any type), or NULL. */
void *bk_pool_alloc(bk_pool *p, size_t n);
/* n elements of size sz (overflow-checked), zeroed, or NULL. */
void *bk_pool_calloc(bk_pool *p, size_t n, size_t sz);
/* A copy of s (NUL-terminated), or NULL. */
char *bk_pool_strdup(bk_pool *p, const char *s);
/* Releases everything; the pool may be used again. */
void bk_pool_free(bk_pool *p);

#endif
