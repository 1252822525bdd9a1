/* proto/protocol.c -- placeholder, being written. */
typedef int bk_placeholder_protocol;
