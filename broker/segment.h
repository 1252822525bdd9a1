/* broker/segment.h -- placeholder, being written. */
