/* json.c -- placeholder, being written. */
typedef int bk_placeholder_json;
