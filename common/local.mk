# common/: shared by everything (buffers, varints, CRC-32C, record batches,
# compression, config files, logging, clocks, framing, atomic files).
noinst_LIBRARIES += libbkcommon.a
libbkcommon_a_SOURCES = \
	common/err.h common/err.c \
	common/buf.h common/buf.c \
	common/varint.h common/varint.c \
	common/crc32c.h common/crc32c.c \
	common/config.h common/config.c \
	common/logging.h common/logging.c \
	common/clock.h common/clock.c \
	common/compress.h common/compress.c \
	common/batch.h common/batch.c \
	common/frame.h common/frame.c \
	common/fileio.h common/fileio.c \
	common/loop.h common/loop.c \
	common/json.h common/json.c \
	common/utf8.h common/utf8.c \
	common/prom.h common/prom.c
libbkcommon_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS) \
	$(LZ4_CFLAGS) $(ZSTD_CFLAGS)

# Link order: users of libbkcommon also need these.
BK_COMMON_LIBS = libbkcommon.a libbkproto.a $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) \
	$(LZ4_LIBS) $(ZSTD_LIBS) $(LIBS)
