/* common/batch.c -- placeholder, being written. */
typedef int bk_placeholder_batch;
