/* metrics.h -- placeholder (issue #6, being written). */
#ifndef BK_METRICS_H
#define BK_METRICS_H
#endif
