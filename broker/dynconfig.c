/* dynconfig.c -- placeholder (issue #6, being written). */
#include "broker/dynconfig.h"
