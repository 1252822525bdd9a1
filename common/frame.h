/* common/frame.h -- placeholder, being written. */
