/*
 * crc32c.h -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of Kafka's RecordBatch v2.
 *
 * bk_crc32c() picks the SSE4.2 `crc32` instruction when the CPU has it
 * (checked once, at first use) and a portable slicing-by-8 table otherwise.
 * Both paths are exported so that tests can check them against each other
 * and against the standard check value (crc32c("123456789") = 0xE3069283).
 * Thread-safe.
 */
#ifndef BK_CRC32C_H
#define BK_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over p[0..n).  Returns the new CRC. */
uint32_t bk_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t bk_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* Only valid when bk_crc32c_hw_available(). */
uint32_t bk_crc32c_hw(uint32_t crc, const void *p, size_t n);
bool bk_crc32c_hw_available(void);

#endif
