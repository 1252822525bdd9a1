/* broker/checkpoint.h -- placeholder, being written. */
