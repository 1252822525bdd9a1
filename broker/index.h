/* broker/index.h -- placeholder, being written. */
