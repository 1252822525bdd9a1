/* placeholder (issue #6, being written) */
#include "tests/unit/cu_main.h"

void bk_test_register(void) {}
