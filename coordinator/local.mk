# coordinator/: everything that speaks to ZooKeeper, and brookctl.
#   zk.c      the ZooKeeper session (zookeeper_mt) and synchronous helpers
#   zkcodec.c Kafka's znode paths and JSON payloads (no I/O)
#   zkdata.c  reading/writing that layout: brokers, topics, topic operations
#   topic.c   topic rules without I/O: names, configs, replica assignment
noinst_LIBRARIES += libbkcoord.a
libbkcoord_a_SOURCES = \
	coordinator/zk.h coordinator/zk.c \
	coordinator/zkcodec.h coordinator/zkcodec.c \
	coordinator/zkdata.h coordinator/zkdata.c \
	coordinator/topic.h coordinator/topic.c \
	coordinator/offsets.h coordinator/offsets.c

# Link order: users of libbkcoord also need these.
BK_COORD_LIBS = libbkcoord.a $(BK_COMMON_LIBS) $(ZK_LIBS)

bin_PROGRAMS += coordinator/brookctl
coordinator_brookctl_SOURCES = coordinator/brookctl.c coordinator/brookctl.h \
	coordinator/brookctl_groups.h coordinator/brookctl_groups.c \
	coordinator/brookctl_configs.c coordinator/brookctl_cluster.c
coordinator_brookctl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
coordinator_brookctl_LDADD = $(BK_COORD_LIBS)
$(coordinator_brookctl_OBJECTS): proto/brook.pb-c.h

# Unit suites (no ZooKeeper).
BK_COORD_UNIT_TESTS = tests/unit/test_json tests/unit/test_zkdata
check_PROGRAMS += $(BK_COORD_UNIT_TESTS)
TESTS += $(BK_COORD_UNIT_TESTS)

tests_unit_test_json_SOURCES = tests/unit/test_json.c $(BK_TEST_MAIN)
tests_unit_test_json_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_json_LDADD = $(BK_COMMON_LIBS) $(CUNIT_LIBS)

tests_unit_test_zkdata_SOURCES = tests/unit/test_zkdata.c $(BK_TEST_MAIN)
tests_unit_test_zkdata_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_zkdata_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# Integration suites (a real ZooKeeper through tests/harness; run by
# tests/run, not by `make check`).
BK_COORD_INTEGRATION_TESTS = tests/integration/test_zk \
	tests/integration/test_zkdata tests/integration/test_brookctl
check_PROGRAMS += $(BK_COORD_INTEGRATION_TESTS)

tests_integration_test_zk_SOURCES = tests/integration/test_zk.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_zk_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_zk_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

tests_integration_test_zkdata_SOURCES = tests/integration/test_zkdata.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_zkdata_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_zkdata_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

tests_integration_test_brookctl_SOURCES = tests/integration/test_brookctl.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_brookctl_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_brookctl_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# Committed offsets in ZooKeeper (real ZooKeeper) and their benchmark.
check_PROGRAMS += tests/integration/test_offsets
tests_integration_test_offsets_SOURCES = tests/integration/test_offsets.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_offsets_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_offsets_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

EXTRA_PROGRAMS += tests/bench/bench_offset_commit
CLEANFILES += tests/bench/bench_offset_commit
tests_bench_bench_offset_commit_SOURCES = tests/bench/bench_offset_commit.c \
	tests/bench/bench_env.c $(BK_HARNESS)
tests_bench_bench_offset_commit_CFLAGS = $(BK_TEST_CFLAGS)
tests_bench_bench_offset_commit_LDADD = $(BK_COORD_LIBS)
EXTRA_DIST += tests/bench/offset-commit

# brookctl groups against a real cluster (ZooKeeper + brokers).
check_PROGRAMS += tests/integration/test_brookctl_groups
tests_integration_test_brookctl_groups_SOURCES = \
	tests/integration/test_brookctl_groups.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_brookctl_groups_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_brookctl_groups_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# brookctl configs describe / alter against a real ZooKeeper.
check_PROGRAMS += tests/integration/test_brookctl_configs
tests_integration_test_brookctl_configs_SOURCES = \
	tests/integration/test_brookctl_configs.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_brookctl_configs_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_brookctl_configs_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)
