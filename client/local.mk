# client/: libbrook (the client library, client/brook.h) and the brook CLI.
noinst_LIBRARIES += libbrook.a
libbrook_a_SOURCES = \
	client/brook.h \
	client/conf.h client/conf.c \
	client/partitioner.h client/partitioner.c \
	client/metadata.h client/metadata.c \
	client/conn.h client/conn.c \
	client/client.h client/client.c \
	client/producer.h client/producer.c \
	client/consumer.h client/consumer.c \
	client/format.h client/format.c \
	client/assignor.h client/assignor.c \
	client/cgroup.h client/cgroup.c
libbrook_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)

# Link order: users of libbrook.
BK_CLIENT_LIBS = libbrook.a $(BK_COMMON_LIBS)

bin_PROGRAMS += client/brook
client_brook_SOURCES = client/cli.c
client_brook_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
client_brook_LDADD = $(BK_CLIENT_LIBS)

# Unit suites (no broker): partitioner, configuration, batching decisions,
# formats, and the client against an in-process fake broker.
BK_CLIENT_UNIT_TESTS = tests/unit/test_murmur2 tests/unit/test_client \
	tests/unit/test_client_fake
check_PROGRAMS += $(BK_CLIENT_UNIT_TESTS)
TESTS += $(BK_CLIENT_UNIT_TESTS)

tests_unit_test_murmur2_SOURCES = tests/unit/test_murmur2.c $(BK_TEST_MAIN)
tests_unit_test_murmur2_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_murmur2_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

tests_unit_test_client_SOURCES = tests/unit/test_client.c $(BK_TEST_MAIN)
tests_unit_test_client_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_client_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

tests_unit_test_client_fake_SOURCES = tests/unit/test_client_fake.c \
	$(BK_TEST_MAIN)
tests_unit_test_client_fake_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_client_fake_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

# Integration suites: real ZooKeeper + brookd through tests/harness.
BK_CLIENT_INTEGRATION_TESTS = tests/integration/test_roundtrip \
	tests/integration/test_client_cli
check_PROGRAMS += $(BK_CLIENT_INTEGRATION_TESTS)

tests_integration_test_roundtrip_SOURCES = tests/integration/test_roundtrip.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_roundtrip_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_roundtrip_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

tests_integration_test_client_cli_SOURCES = \
	tests/integration/test_client_cli.c $(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_client_cli_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_client_cli_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

# Benchmark: tests/bench/produce-consume builds and runs it.
EXTRA_PROGRAMS += tests/bench/bench_produce_consume
CLEANFILES += tests/bench/bench_produce_consume
tests_bench_bench_produce_consume_SOURCES = \
	tests/bench/bench_produce_consume.c tests/bench/bench_env.c $(BK_HARNESS)
tests_bench_bench_produce_consume_CFLAGS = $(BK_TEST_CFLAGS)
tests_bench_bench_produce_consume_LDADD = $(BK_CLIENT_LIBS)
EXTRA_DIST += tests/bench/produce-consume

# Objects that include the generated proto/brook.pb-c.h wait for it even in
# a single-target make (see proto/local.mk).
$(libbrook_a_OBJECTS) $(client_brook_OBJECTS): proto/brook.pb-c.h

# Consumer-group assignors (range, roundrobin, sticky) and the consumer
# protocol's subscription/assignment encoding.
check_PROGRAMS += tests/unit/test_assignor
TESTS += tests/unit/test_assignor
tests_unit_test_assignor_SOURCES = tests/unit/test_assignor.c $(BK_TEST_MAIN)
tests_unit_test_assignor_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_assignor_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)

# Consumer-group membership against an in-process fake coordinator.
check_PROGRAMS += tests/unit/test_cgroup
TESTS += tests/unit/test_cgroup
tests_unit_test_cgroup_SOURCES = tests/unit/test_cgroup.c $(BK_TEST_MAIN)
tests_unit_test_cgroup_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_cgroup_LDADD = $(BK_CLIENT_LIBS) $(CUNIT_LIBS)
