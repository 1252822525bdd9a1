/* common/config.c -- placeholder, being written. */
typedef int bk_placeholder_config;
