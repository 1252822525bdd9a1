/* broker/log.h -- placeholder, being written. */
