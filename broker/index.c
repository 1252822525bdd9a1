/* broker/index.c -- placeholder, being written. */
typedef int bk_placeholder_index;
