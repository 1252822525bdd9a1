/* common/frame.c -- placeholder, being written. */
typedef int bk_placeholder_frame;
