/*
 * clock.h -- monotonic and wall clocks.
 *
 * Monotonic time measures intervals (timeouts, segment age as seen by this
 * process, latencies); wall time is what Kafka stores in record timestamps
 * and uses for retention.ms.  Never mix the two.  Any thread.
 */
#ifndef BK_CLOCK_H
#define BK_CLOCK_H

#include <stdint.h>

int64_t bk_clock_mono_ns(void);
int64_t bk_clock_mono_us(void);
int64_t bk_clock_mono_ms(void);
/* Milliseconds since the Unix epoch (Kafka timestamps). */
int64_t bk_clock_wall_ms(void);

#endif
