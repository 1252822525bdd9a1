# broker/: brookd.  The partition log (segments, sparse index, recovery,
# retention) and the broker's checkpoint files; the daemon around them:
# configuration, network server, request handlers, delayed fetches,
# partition table, cluster metadata and the ZooKeeper side.
noinst_LIBRARIES += libbkbroker.a
libbkbroker_a_SOURCES = \
	broker/segment.h broker/segment.c \
	broker/index.h broker/index.c \
	broker/log.h broker/log.c \
	broker/epoch.h broker/epoch.c \
	broker/checkpoint.h broker/checkpoint.c \
	broker/brokercfg.h broker/brokercfg.c \
	broker/pool.h broker/pool.c \
	broker/server.h broker/server.c \
	broker/metadata.h broker/metadata.c \
	broker/partition.h broker/partition.c \
	broker/fetchwait.h broker/fetchwait.c \
	broker/repl.h broker/repl.c broker/fetcher.h broker/fetcher.c \
	broker/broker.h broker/broker.c \
	broker/handlers.h broker/handlers.c broker/handlers_data.c \
	broker/admin.h broker/admin.c \
	broker/zkbroker.h broker/zkbroker_int.h broker/zkbroker.c \
	broker/zkconfig.c \
	broker/controller.h broker/controller.c \
	broker/reassign.h broker/reassign.c \
	broker/ctrlchan.h broker/ctrlchan.c broker/handlers_ctrl.c \
	broker/group.h broker/group.c \
	broker/offsvc.h broker/offsvc.c \
	broker/gcoord.h broker/gcoord.c \
	broker/metrics.h broker/metrics.c \
	broker/dynconfig.h broker/dynconfig.c
libbkbroker_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)

BK_BROKER_LIBS = libbkbroker.a $(BK_COMMON_LIBS)

bin_PROGRAMS += broker/brookd
broker_brookd_SOURCES = broker/main.c
broker_brookd_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(SYSTEMD_CFLAGS)
broker_brookd_LDADD = libbkbroker.a libbkcoord.a $(BK_COMMON_LIBS) \
	$(ZK_LIBS) $(SYSTEMD_LIBS)

# Unit suite of the broker's own modules (no ZooKeeper).
check_PROGRAMS += tests/unit/test_broker_units
TESTS += tests/unit/test_broker_units
tests_unit_test_broker_units_SOURCES = tests/unit/test_broker_units.c \
	$(BK_TEST_MAIN)
tests_unit_test_broker_units_CFLAGS = $(BK_TEST_CFLAGS) \
	-DBK_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_broker_units_LDADD = libbkbroker.a libbkcoord.a \
	$(BK_COMMON_LIBS) $(ZK_LIBS) $(CUNIT_LIBS)

# The controller's per-partition decisions (no ZooKeeper).
check_PROGRAMS += tests/unit/test_controller_plan
TESTS += tests/unit/test_controller_plan
tests_unit_test_controller_plan_SOURCES = tests/unit/test_controller_plan.c \
	$(BK_TEST_MAIN)
tests_unit_test_controller_plan_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_controller_plan_LDADD = libbkbroker.a libbkcoord.a \
	$(BK_COMMON_LIBS) $(ZK_LIBS) $(CUNIT_LIBS)

# Integration suites: real ZooKeeper and brookd processes (tests/harness).
BK_BROKER_INTEGRATION_TESTS = tests/integration/test_broker \
	tests/integration/test_broker_faults
check_PROGRAMS += $(BK_BROKER_INTEGRATION_TESTS)

tests_integration_test_broker_SOURCES = tests/integration/test_broker.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_broker_CFLAGS = $(BK_TEST_CFLAGS) \
	-DBK_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_integration_test_broker_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

tests_integration_test_broker_faults_SOURCES = \
	tests/integration/test_broker_faults.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_broker_faults_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_broker_faults_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# The controller: election and failover on three real brokers.
check_PROGRAMS += tests/integration/test_controller
tests_integration_test_controller_SOURCES = \
	tests/integration/test_controller.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_controller_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_controller_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# Benchmark: tests/bench/failover builds and runs it.
EXTRA_PROGRAMS += tests/bench/bench_failover
CLEANFILES += tests/bench/bench_failover
tests_bench_bench_failover_SOURCES = tests/bench/bench_failover.c \
	tests/bench/bench_env.c $(BK_HARNESS)
tests_bench_bench_failover_CFLAGS = $(BK_TEST_CFLAGS)
tests_bench_bench_failover_LDADD = $(BK_COORD_LIBS)
EXTRA_DIST += tests/bench/failover


# Objects that include the generated proto/brook.pb-c.h wait for it even in
# a single-target make (see proto/local.mk).
$(libbkbroker_a_OBJECTS) $(broker_brookd_OBJECTS): proto/brook.pb-c.h

# Replication suite (3 brokers, real ZooKeeper).
check_PROGRAMS += tests/integration/test_replication
tests_integration_test_replication_SOURCES = \
	tests/integration/test_replication.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_replication_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_replication_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# The kill loop of issue #4: a libbrook acks=all producer while partition
# leaders are SIGKILLed and restarted.
check_PROGRAMS += tests/integration/test_killloop
tests_integration_test_killloop_SOURCES = \
	tests/integration/test_killloop.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_killloop_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_killloop_LDADD = libbrook.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)

check_PROGRAMS += tests/integration/test_admin_ops
tests_integration_test_admin_ops_SOURCES = \
	tests/integration/test_admin_ops.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_admin_ops_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_admin_ops_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

check_PROGRAMS += tests/integration/test_reassign
tests_integration_test_reassign_SOURCES = \
	tests/integration/test_reassign.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_reassign_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_reassign_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

check_PROGRAMS += tests/integration/test_ctrl_rpc
tests_integration_test_ctrl_rpc_SOURCES = \
	tests/integration/test_ctrl_rpc.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_ctrl_rpc_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_ctrl_rpc_LDADD = $(BK_COORD_LIBS) $(CUNIT_LIBS)

# Group coordinator state machine (no network, no ZooKeeper).
check_PROGRAMS += tests/unit/test_group
TESTS += tests/unit/test_group
tests_unit_test_group_SOURCES = tests/unit/test_group.c $(BK_TEST_MAIN)
tests_unit_test_group_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_group_LDADD = libbkbroker.a libbkcoord.a $(BK_COMMON_LIBS) \
	$(ZK_LIBS) $(CUNIT_LIBS)

# The offsets session (broker/offsvc) against a real ZooKeeper.
check_PROGRAMS += tests/integration/test_offsvc
tests_integration_test_offsvc_SOURCES = tests/integration/test_offsvc.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_offsvc_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_offsvc_LDADD = libbkbroker.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)

# Group coordinator placement (no network, no ZooKeeper).
check_PROGRAMS += tests/unit/test_gcoord
TESTS += tests/unit/test_gcoord
tests_unit_test_gcoord_SOURCES = tests/unit/test_gcoord.c $(BK_TEST_MAIN)
tests_unit_test_gcoord_CFLAGS = $(BK_TEST_CFLAGS)
tests_unit_test_gcoord_LDADD = libbkbroker.a libbkcoord.a $(BK_COMMON_LIBS) \
	$(ZK_LIBS) $(CUNIT_LIBS)

# The group coordinator in brookd (raw frames, 3 brokers, real ZooKeeper).
check_PROGRAMS += tests/integration/test_groups
tests_integration_test_groups_SOURCES = tests/integration/test_groups.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_groups_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_groups_LDADD = libbkbroker.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)

# Consumer groups end to end: libbrook consumers, 3 brokers, real ZooKeeper.
check_PROGRAMS += tests/integration/test_consumer_groups
tests_integration_test_consumer_groups_SOURCES = \
	tests/integration/test_consumer_groups.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_consumer_groups_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_consumer_groups_LDADD = libbrook.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)

# Issue #6: dynamic configuration, metrics, rolling restart and cluster
# status, each against a real cluster.
check_PROGRAMS += tests/integration/test_configs tests/integration/test_metrics \
	tests/integration/test_rolling
tests_integration_test_configs_SOURCES = tests/integration/test_configs.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_configs_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_configs_LDADD = libbrook.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)
tests_integration_test_metrics_SOURCES = tests/integration/test_metrics.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_metrics_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_metrics_LDADD = libbrook.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)
tests_integration_test_rolling_SOURCES = tests/integration/test_rolling.c \
	tests/integration/brokertest.h tests/integration/brokertest.c \
	$(BK_HARNESS) $(BK_TEST_MAIN)
tests_integration_test_rolling_CFLAGS = $(BK_TEST_CFLAGS)
tests_integration_test_rolling_LDADD = libbrook.a $(BK_COORD_LIBS) \
	$(CUNIT_LIBS)
$(tests_integration_test_configs_OBJECTS) \
$(tests_integration_test_metrics_OBJECTS) \
$(tests_integration_test_rolling_OBJECTS): proto/brook.pb-c.h
