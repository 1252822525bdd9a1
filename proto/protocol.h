/* protocol.h -- placeholder */
