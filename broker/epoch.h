/* broker/epoch.h -- placeholder, being written. */
