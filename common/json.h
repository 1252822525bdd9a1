/* json.h -- placeholder */
