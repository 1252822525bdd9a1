/* metrics.c -- placeholder (issue #6, being written). */
#include "broker/metrics.h"
