/* common/config.h -- placeholder, being written. */
