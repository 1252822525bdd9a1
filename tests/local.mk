# tests/: CUnit unit suites (one program per module group, all sharing
# tests/unit/cu_main.c), and benchmarks (built on demand: make bench).
BK_TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(PROTOBUF_C_CFLAGS)
BK_TEST_MAIN = tests/unit/cu_main.c tests/unit/cu_main.h

BK_UNIT_TESTS = \
	tests/unit/test_buf \
	tests/unit/test_crc32c \
	tests/unit/test_config \
	tests/unit/test_batch \
	tests/unit/test_frame \
	tests/unit/test_protocol \
	tests/unit/test_checkpoint \
	tests/unit/test_log \
	tests/unit/test_loop
check_PROGRAMS += $(BK_UNIT_TESTS)
TESTS += $(BK_UNIT_TESTS)

tests_unit_test_buf_SOURCES = tests/unit/test_buf.c $(BK_TEST_MAIN)
tests_unit_test_buf_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_buf_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_crc32c_SOURCES = tests/unit/test_crc32c.c $(BK_TEST_MAIN)
tests_unit_test_crc32c_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_crc32c_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_config_SOURCES = tests/unit/test_config.c $(BK_TEST_MAIN)
tests_unit_test_config_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_batch_SOURCES = tests/unit/test_batch.c $(BK_TEST_MAIN)
tests_unit_test_batch_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_batch_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_frame_SOURCES = tests/unit/test_frame.c $(BK_TEST_MAIN)
tests_unit_test_frame_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_frame_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

# Compares proto/protocol.h with librdkafka's rdkafka.h at compile time.
tests_unit_test_protocol_SOURCES = tests/unit/test_protocol.c $(BK_TEST_MAIN)
tests_unit_test_protocol_CFLAGS = $(BK_TEST_CFLAGS) $(RDKAFKA_CFLAGS)
tests_unit_test_protocol_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)
if HAVE_RDKAFKA
tests_unit_test_protocol_CFLAGS += -DBK_HAVE_RDKAFKA_H
endif

tests_unit_test_loop_SOURCES = tests/unit/test_loop.c $(BK_TEST_MAIN)
tests_unit_test_loop_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_loop_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_checkpoint_SOURCES = tests/unit/test_checkpoint.c $(BK_TEST_MAIN)
tests_unit_test_checkpoint_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_checkpoint_LDADD = $(BK_BROKER_LIBS) $(CUNIT_LIBS)

tests_unit_test_log_SOURCES = tests/unit/test_log.c $(BK_TEST_MAIN)
tests_unit_test_log_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_log_LDADD = $(BK_BROKER_LIBS) $(CUNIT_LIBS)

# Benchmarks: not part of tests/run; tests/bench/<name> builds and runs them.
BK_BENCHES = tests/bench/bench_log_append tests/bench/bench_batch_codec
EXTRA_PROGRAMS += $(BK_BENCHES)
CLEANFILES += $(BK_BENCHES)
bench: $(BK_BENCHES)
.PHONY: bench

tests_bench_bench_log_append_SOURCES = tests/bench/bench_log_append.c
tests_bench_bench_log_append_LDADD = $(BK_BROKER_LIBS)
tests_bench_bench_batch_codec_SOURCES = tests/bench/bench_batch_codec.c
tests_bench_bench_batch_codec_LDADD = $(BK_COMMON_LIBS)

EXTRA_DIST += tests/run tests/bench/log-append tests/bench/batch-codec

# Integration suites: real ZooKeeper (and brokers) through tests/harness.
BK_HARNESS = tests/harness/harness.c tests/harness/harness.h
BK_INTEGRATION_TESTS = tests/integration/test_harness
check_PROGRAMS += $(BK_INTEGRATION_TESTS)

tests_integration_test_harness_SOURCES = tests/integration/test_harness.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_harness_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_harness_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)
