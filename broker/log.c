/* broker/log.c -- placeholder, being written. */
typedef int bk_placeholder_log;
