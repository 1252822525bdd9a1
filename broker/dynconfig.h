/* dynconfig.h -- placeholder (issue #6, being written). */
#ifndef BK_DYNCONFIG_H
#define BK_DYNCONFIG_H
#endif
