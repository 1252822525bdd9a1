/*
 * test_protocol.c -- tests proto/protocol.{h,c}: Brook's API keys and error
 * codes must be Kafka's numbers (DESIGN.md section 4).
 *
 * Compile time: with BK_HAVE_RDKAFKA_H (librdkafka-dev present), every
 * BK_ERR_<name> is asserted equal to RD_KAFKA_RESP_ERR_<name>; the list is
 * also checked to cover every code from BK_ERRCODE_MIN to BK_ERRCODE_MAX
 * exactly once.  librdkafka keeps its API-key macros out of the public
 * header, so API keys are asserted against a table of facts taken from the
 * Kafka message specs (apache/kafka clients/src/main/resources/common/
 * message/<Name>Request.json, field "apiKey").
 *
 * Run time: names, messages, the retriable set, the lookup of unknown
 * numbers, and brook.proto's body field numbering.
 */
#include "proto/protocol.h"

#include <stdio.h>
#include <string.h>

#include "proto/brook.pb-c.h"
#include "tests/unit/cu_main.h"

#ifdef BK_HAVE_RDKAFKA_H
#include <librdkafka/rdkafka.h>
#endif

/* Every error code, by librdkafka's name.  X(NAME) */
#define BK_TEST_ERRS(X)                                                        \
    X(UNKNOWN)                                                                 \
    X(NO_ERROR)                                                                \
    X(OFFSET_OUT_OF_RANGE)                                                     \
    X(INVALID_MSG)                                                             \
    X(UNKNOWN_TOPIC_OR_PART)                                                   \
    X(INVALID_MSG_SIZE)                                                        \
    X(LEADER_NOT_AVAILABLE)                                                    \
    X(NOT_LEADER_FOR_PARTITION)                                                \
    X(REQUEST_TIMED_OUT)                                                       \
    X(BROKER_NOT_AVAILABLE)                                                    \
    X(REPLICA_NOT_AVAILABLE)                                                   \
    X(MSG_SIZE_TOO_LARGE)                                                      \
    X(STALE_CTRL_EPOCH)                                                        \
    X(OFFSET_METADATA_TOO_LARGE)                                               \
    X(NETWORK_EXCEPTION)                                                       \
    X(COORDINATOR_LOAD_IN_PROGRESS)                                            \
    X(COORDINATOR_NOT_AVAILABLE)                                               \
    X(NOT_COORDINATOR)                                                         \
    X(TOPIC_EXCEPTION)                                                         \
    X(RECORD_LIST_TOO_LARGE)                                                   \
    X(NOT_ENOUGH_REPLICAS)                                                     \
    X(NOT_ENOUGH_REPLICAS_AFTER_APPEND)                                        \
    X(INVALID_REQUIRED_ACKS)                                                   \
    X(ILLEGAL_GENERATION)                                                      \
    X(INCONSISTENT_GROUP_PROTOCOL)                                             \
    X(INVALID_GROUP_ID)                                                        \
    X(UNKNOWN_MEMBER_ID)                                                       \
    X(INVALID_SESSION_TIMEOUT)                                                 \
    X(REBALANCE_IN_PROGRESS)                                                   \
    X(INVALID_COMMIT_OFFSET_SIZE)                                              \
    X(TOPIC_AUTHORIZATION_FAILED)                                              \
    X(GROUP_AUTHORIZATION_FAILED)                                              \
    X(CLUSTER_AUTHORIZATION_FAILED)                                            \
    X(INVALID_TIMESTAMP)                                                       \
    X(UNSUPPORTED_SASL_MECHANISM)                                              \
    X(ILLEGAL_SASL_STATE)                                                      \
    X(UNSUPPORTED_VERSION)                                                     \
    X(TOPIC_ALREADY_EXISTS)                                                    \
    X(INVALID_PARTITIONS)                                                      \
    X(INVALID_REPLICATION_FACTOR)                                              \
    X(INVALID_REPLICA_ASSIGNMENT)                                              \
    X(INVALID_CONFIG)                                                          \
    X(NOT_CONTROLLER)                                                          \
    X(INVALID_REQUEST)                                                         \
    X(UNSUPPORTED_FOR_MESSAGE_FORMAT)                                          \
    X(POLICY_VIOLATION)                                                        \
    X(OUT_OF_ORDER_SEQUENCE_NUMBER)                                            \
    X(DUPLICATE_SEQUENCE_NUMBER)                                               \
    X(INVALID_PRODUCER_EPOCH)                                                  \
    X(INVALID_TXN_STATE)                                                       \
    X(INVALID_PRODUCER_ID_MAPPING)                                             \
    X(INVALID_TRANSACTION_TIMEOUT)                                             \
    X(CONCURRENT_TRANSACTIONS)                                                 \
    X(TRANSACTION_COORDINATOR_FENCED)                                          \
    X(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)                                   \
    X(SECURITY_DISABLED)                                                       \
    X(OPERATION_NOT_ATTEMPTED)                                                 \
    X(KAFKA_STORAGE_ERROR)                                                     \
    X(LOG_DIR_NOT_FOUND)                                                       \
    X(SASL_AUTHENTICATION_FAILED)                                              \
    X(UNKNOWN_PRODUCER_ID)                                                     \
    X(REASSIGNMENT_IN_PROGRESS)                                                \
    X(DELEGATION_TOKEN_AUTH_DISABLED)                                          \
    X(DELEGATION_TOKEN_NOT_FOUND)                                              \
    X(DELEGATION_TOKEN_OWNER_MISMATCH)                                         \
    X(DELEGATION_TOKEN_REQUEST_NOT_ALLOWED)                                    \
    X(DELEGATION_TOKEN_AUTHORIZATION_FAILED)                                   \
    X(DELEGATION_TOKEN_EXPIRED)                                                \
    X(INVALID_PRINCIPAL_TYPE)                                                  \
    X(NON_EMPTY_GROUP)                                                         \
    X(GROUP_ID_NOT_FOUND)                                                      \
    X(FETCH_SESSION_ID_NOT_FOUND)                                              \
    X(INVALID_FETCH_SESSION_EPOCH)                                             \
    X(LISTENER_NOT_FOUND)                                                      \
    X(TOPIC_DELETION_DISABLED)                                                 \
    X(FENCED_LEADER_EPOCH)                                                     \
    X(UNKNOWN_LEADER_EPOCH)                                                    \
    X(UNSUPPORTED_COMPRESSION_TYPE)                                            \
    X(STALE_BROKER_EPOCH)                                                      \
    X(OFFSET_NOT_AVAILABLE)                                                    \
    X(MEMBER_ID_REQUIRED)                                                      \
    X(PREFERRED_LEADER_NOT_AVAILABLE)                                          \
    X(GROUP_MAX_SIZE_REACHED)                                                  \
    X(FENCED_INSTANCE_ID)                                                      \
    X(ELIGIBLE_LEADERS_NOT_AVAILABLE)                                          \
    X(ELECTION_NOT_NEEDED)                                                     \
    X(NO_REASSIGNMENT_IN_PROGRESS)                                             \
    X(GROUP_SUBSCRIBED_TO_TOPIC)                                               \
    X(INVALID_RECORD)                                                          \
    X(UNSTABLE_OFFSET_COMMIT)                                                  \
    X(THROTTLING_QUOTA_EXCEEDED)                                               \
    X(PRODUCER_FENCED)                                                         \
    X(RESOURCE_NOT_FOUND)                                                      \
    X(DUPLICATE_RESOURCE)                                                      \
    X(UNACCEPTABLE_CREDENTIAL)                                                 \
    X(INCONSISTENT_VOTER_SET)                                                  \
    X(INVALID_UPDATE_VERSION)                                                  \
    X(FEATURE_UPDATE_FAILED)                                                   \
    X(PRINCIPAL_DESERIALIZATION_FAILURE)

/* --- compile time: the error numbers are librdkafka's --- */
#ifdef BK_HAVE_RDKAFKA_H
#define SAME_AS_RDKAFKA(NAME)                                                  \
    _Static_assert((int)BK_ERR_##NAME == (int)RD_KAFKA_RESP_ERR_##NAME,        \
                   "BK_ERR_" #NAME " differs from librdkafka");
BK_TEST_ERRS(SAME_AS_RDKAFKA)
#undef SAME_AS_RDKAFKA
/* librdkafka's last broker code of the range Brook claims */
_Static_assert(BK_ERRCODE_MAX ==
                   RD_KAFKA_RESP_ERR_PRINCIPAL_DESERIALIZATION_FAILURE,
               "BK_ERRCODE_MAX");
_Static_assert(BK_ERRCODE_MIN == RD_KAFKA_RESP_ERR_UNKNOWN, "BK_ERRCODE_MIN");
#endif

/* The list is complete: as many entries as numbers in the range, each in
 * the range, and no two equal (the switch in errs_distinct() would not
 * compile with a duplicate case), so every number appears once. */
#define COUNT_ONE(NAME) +1
enum { N_LISTED_ERRS = 0 BK_TEST_ERRS(COUNT_ONE) };
#undef COUNT_ONE
_Static_assert(N_LISTED_ERRS == BK_ERRCODE_MAX - BK_ERRCODE_MIN + 1,
               "every error code from MIN to MAX is listed");
#define IN_RANGE(NAME)                                                         \
    _Static_assert(BK_ERR_##NAME >= BK_ERRCODE_MIN &&                          \
                       BK_ERR_##NAME <= BK_ERRCODE_MAX,                        \
                   #NAME " in range");
BK_TEST_ERRS(IN_RANGE)
#undef IN_RANGE

static int errs_distinct(int code)
{
#define CASE(NAME)                                                             \
    case BK_ERR_##NAME:                                                        \
        return 1;
    switch (code) {
        BK_TEST_ERRS(CASE)
    }
#undef CASE
    return 0;
}

/* A few numbers spelled out, independent of librdkafka being present. */
_Static_assert(BK_ERR_UNKNOWN == -1, "UNKNOWN");
_Static_assert(BK_ERR_NO_ERROR == 0, "NO_ERROR");
_Static_assert(BK_ERR_OFFSET_OUT_OF_RANGE == 1, "OFFSET_OUT_OF_RANGE");
_Static_assert(BK_ERR_NOT_LEADER_FOR_PARTITION == 6, "NOT_LEADER");
_Static_assert(BK_ERR_NOT_ENOUGH_REPLICAS == 19, "NOT_ENOUGH_REPLICAS");
_Static_assert(BK_ERR_NOT_CONTROLLER == 41, "NOT_CONTROLLER");
_Static_assert(BK_ERR_FENCED_LEADER_EPOCH == 74, "FENCED_LEADER_EPOCH");

/* --- compile time: API keys are the Kafka protocol's --- */

/* (enum suffix, Kafka name, apiKey in <Name>Request.json).  X(KEY, NAME, N) */
#define KAFKA_APIS(X)                                                          \
    X(PRODUCE, "Produce", 0)                                                   \
    X(FETCH, "Fetch", 1)                                                       \
    X(LIST_OFFSETS, "ListOffsets", 2)                                          \
    X(METADATA, "Metadata", 3)                                                 \
    X(LEADER_AND_ISR, "LeaderAndIsr", 4)                                       \
    X(STOP_REPLICA, "StopReplica", 5)                                          \
    X(UPDATE_METADATA, "UpdateMetadata", 6)                                    \
    X(CONTROLLED_SHUTDOWN, "ControlledShutdown", 7)                            \
    X(OFFSET_COMMIT, "OffsetCommit", 8)                                        \
    X(OFFSET_FETCH, "OffsetFetch", 9)                                          \
    X(FIND_COORDINATOR, "FindCoordinator", 10)                                 \
    X(JOIN_GROUP, "JoinGroup", 11)                                             \
    X(HEARTBEAT, "Heartbeat", 12)                                              \
    X(LEAVE_GROUP, "LeaveGroup", 13)                                           \
    X(SYNC_GROUP, "SyncGroup", 14)                                             \
    X(DESCRIBE_GROUPS, "DescribeGroups", 15)                                   \
    X(LIST_GROUPS, "ListGroups", 16)                                           \
    X(SASL_HANDSHAKE, "SaslHandshake", 17)                                     \
    X(API_VERSIONS, "ApiVersions", 18)                                         \
    X(CREATE_TOPICS, "CreateTopics", 19)                                       \
    X(DELETE_TOPICS, "DeleteTopics", 20)                                       \
    X(DELETE_RECORDS, "DeleteRecords", 21)                                     \
    X(INIT_PRODUCER_ID, "InitProducerId", 22)                                  \
    X(OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", 23)                     \
    X(ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn", 24)                         \
    X(ADD_OFFSETS_TO_TXN, "AddOffsetsToTxn", 25)                               \
    X(END_TXN, "EndTxn", 26)                                                   \
    X(WRITE_TXN_MARKERS, "WriteTxnMarkers", 27)                                \
    X(TXN_OFFSET_COMMIT, "TxnOffsetCommit", 28)                                \
    X(DESCRIBE_ACLS, "DescribeAcls", 29)                                       \
    X(CREATE_ACLS, "CreateAcls", 30)                                           \
    X(DELETE_ACLS, "DeleteAcls", 31)                                           \
    X(DESCRIBE_CONFIGS, "DescribeConfigs", 32)                                 \
    X(ALTER_CONFIGS, "AlterConfigs", 33)                                       \
    X(ALTER_REPLICA_LOG_DIRS, "AlterReplicaLogDirs", 34)                       \
    X(DESCRIBE_LOG_DIRS, "DescribeLogDirs", 35)                                \
    X(SASL_AUTHENTICATE, "SaslAuthenticate", 36)                               \
    X(CREATE_PARTITIONS, "CreatePartitions", 37)                               \
    X(CREATE_DELEGATION_TOKEN, "CreateDelegationToken", 38)                    \
    X(RENEW_DELEGATION_TOKEN, "RenewDelegationToken", 39)                      \
    X(EXPIRE_DELEGATION_TOKEN, "ExpireDelegationToken", 40)                    \
    X(DESCRIBE_DELEGATION_TOKEN, "DescribeDelegationToken", 41)                \
    X(DELETE_GROUPS, "DeleteGroups", 42)                                       \
    X(ELECT_LEADERS, "ElectLeaders", 43)                                       \
    X(INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs", 44)                \
    X(ALTER_PARTITION_REASSIGNMENTS, "AlterPartitionReassignments", 45)        \
    X(LIST_PARTITION_REASSIGNMENTS, "ListPartitionReassignments", 46)          \
    X(OFFSET_DELETE, "OffsetDelete", 47)                                       \
    X(DESCRIBE_CLIENT_QUOTAS, "DescribeClientQuotas", 48)                      \
    X(ALTER_CLIENT_QUOTAS, "AlterClientQuotas", 49)                            \
    X(DESCRIBE_USER_SCRAM_CREDENTIALS, "DescribeUserScramCredentials", 50)     \
    X(ALTER_USER_SCRAM_CREDENTIALS, "AlterUserScramCredentials", 51)           \
    X(VOTE, "Vote", 52)                                                        \
    X(BEGIN_QUORUM_EPOCH, "BeginQuorumEpoch", 53)                              \
    X(END_QUORUM_EPOCH, "EndQuorumEpoch", 54)                                  \
    X(DESCRIBE_QUORUM, "DescribeQuorum", 55)                                   \
    X(ALTER_PARTITION, "AlterPartition", 56)                                   \
    X(UPDATE_FEATURES, "UpdateFeatures", 57)                                   \
    X(ENVELOPE, "Envelope", 58)                                                \
    X(FETCH_SNAPSHOT, "FetchSnapshot", 59)                                     \
    X(DESCRIBE_CLUSTER, "DescribeCluster", 60)                                 \
    X(DESCRIBE_PRODUCERS, "DescribeProducers", 61)                             \
    X(BROKER_REGISTRATION, "BrokerRegistration", 62)                           \
    X(BROKER_HEARTBEAT, "BrokerHeartbeat", 63)                                 \
    X(UNREGISTER_BROKER, "UnregisterBroker", 64)                               \
    X(DESCRIBE_TRANSACTIONS, "DescribeTransactions", 65)                       \
    X(LIST_TRANSACTIONS, "ListTransactions", 66)                               \
    X(ALLOCATE_PRODUCER_IDS, "AllocateProducerIds", 67)                        \
    X(CONSUMER_GROUP_HEARTBEAT, "ConsumerGroupHeartbeat", 68)                  \
    X(CONSUMER_GROUP_DESCRIBE, "ConsumerGroupDescribe", 69)                    \
    X(CONTROLLER_REGISTRATION, "ControllerRegistration", 70)                   \
    X(GET_TELEMETRY_SUBSCRIPTIONS, "GetTelemetrySubscriptions", 71)            \
    X(PUSH_TELEMETRY, "PushTelemetry", 72)                                     \
    X(ASSIGN_REPLICAS_TO_DIRS, "AssignReplicasToDirs", 73)

#define API_NUMBER(KEY, NAME, N)                                               \
    _Static_assert(BK_API_##KEY == (N), "apiKey of " NAME);
KAFKA_APIS(API_NUMBER)
#undef API_NUMBER
_Static_assert(BK_API_KEY_MAX == 73, "BK_API_KEY_MAX");

/* --- compile time: brook.proto numbers bodies 10 + api key --- */
/* (enum suffix, protoc-c body case suffix).  X(KEY, CASE) */
#define BROOK_BODIES(X)                                                        \
    X(PRODUCE, PRODUCE)                                                        \
    X(FETCH, FETCH)                                                            \
    X(LIST_OFFSETS, LIST_OFFSETS)                                              \
    X(METADATA, METADATA)                                                      \
    X(LEADER_AND_ISR, LEADER_AND_ISR)                                          \
    X(STOP_REPLICA, STOP_REPLICA)                                              \
    X(UPDATE_METADATA, UPDATE_METADATA)                                        \
    X(CONTROLLED_SHUTDOWN, CONTROLLED_SHUTDOWN)                                \
    X(OFFSET_COMMIT, OFFSET_COMMIT)                                            \
    X(OFFSET_FETCH, OFFSET_FETCH)                                              \
    X(FIND_COORDINATOR, FIND_COORDINATOR)                                      \
    X(JOIN_GROUP, JOIN_GROUP)                                                  \
    X(HEARTBEAT, HEARTBEAT)                                                    \
    X(LEAVE_GROUP, LEAVE_GROUP)                                                \
    X(SYNC_GROUP, SYNC_GROUP)                                                  \
    X(DESCRIBE_GROUPS, DESCRIBE_GROUPS)                                        \
    X(LIST_GROUPS, LIST_GROUPS)                                                \
    X(API_VERSIONS, API_VERSIONS)                                              \
    X(CREATE_TOPICS, CREATE_TOPICS)                                            \
    X(DELETE_TOPICS, DELETE_TOPICS)                                            \
    X(OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH)                        \
    X(DESCRIBE_CONFIGS, DESCRIBE_CONFIGS)

#define BODY_FIELD(KEY, CASE)                                                  \
    _Static_assert(BROOK__REQUEST__BODY_##CASE == BK_BODY_FIELD(BK_API_##KEY), \
                   "request body field of " #KEY);                             \
    _Static_assert(BROOK__RESPONSE__BODY_##CASE ==                             \
                       BK_BODY_FIELD(BK_API_##KEY),                            \
                   "response body field of " #KEY);
BROOK_BODIES(BODY_FIELD)
#undef BODY_FIELD
_Static_assert(BROOK__REQUEST__BODY_PRODUCE == 10, "produce = 10");
_Static_assert(BROOK__REQUEST__BODY_FETCH == 11, "fetch = 11");

/* ------------------------------ run time ------------------------------ */

struct err_fact {
    int code;
    const char *name;
};
#define ERR_FACT(NAME) {BK_ERR_##NAME, #NAME},
static const struct err_fact err_facts[] = {BK_TEST_ERRS(ERR_FACT)};
#undef ERR_FACT
#define N_ERR_FACTS (sizeof err_facts / sizeof err_facts[0])

/* Every code in range has a name equal to its enum name, and a message;
 * no two codes share a name or a message. */
static void test_err_names_messages(void)
{
    CU_ASSERT_EQUAL(N_ERR_FACTS, BK_ERRCODE_MAX - BK_ERRCODE_MIN + 1);
    for (size_t i = 0; i < N_ERR_FACTS; i++) {
        const struct err_fact *f = &err_facts[i];
        CU_ASSERT_TRUE(errs_distinct(f->code));
        CU_ASSERT_STRING_EQUAL(bk_err_name(f->code), f->name);
    }
    for (int c = BK_ERRCODE_MIN; c <= BK_ERRCODE_MAX; c++) {
        const char *name = bk_err_name(c), *msg = bk_err_message(c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
        CU_ASSERT(strlen(name) > 0);
        CU_ASSERT(strlen(msg) > 0);
        CU_ASSERT(strcmp(name, "UNKNOWN_ERROR_CODE") != 0);
        CU_ASSERT(strcmp(msg, "unknown error code") != 0);
        for (int d = c + 1; d <= BK_ERRCODE_MAX; d++) {
            if (strcmp(name, bk_err_name(d)) == 0 ||
                strcmp(msg, bk_err_message(d)) == 0) {
                printf("codes %d and %d share a name or message\n", c, d);
                CU_FAIL("duplicate name or message");
            }
        }
    }
    CU_ASSERT_STRING_EQUAL(bk_err_name(6), "NOT_LEADER_FOR_PARTITION");
    CU_ASSERT_STRING_EQUAL(bk_err_name(-1), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(bk_err_name(0), "NO_ERROR");
}

/* Kafka's retriable errors: those whose exception class extends
 * RetriableException (checked against apache/kafka's errors package). */
static void test_err_retriable(void)
{
    static const int retriable[] = {
        BK_ERR_INVALID_MSG,
        BK_ERR_UNKNOWN_TOPIC_OR_PART,
        BK_ERR_LEADER_NOT_AVAILABLE,
        BK_ERR_NOT_LEADER_FOR_PARTITION,
        BK_ERR_REQUEST_TIMED_OUT,
        BK_ERR_REPLICA_NOT_AVAILABLE,
        BK_ERR_NETWORK_EXCEPTION,
        BK_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        BK_ERR_COORDINATOR_NOT_AVAILABLE,
        BK_ERR_NOT_COORDINATOR,
        BK_ERR_NOT_ENOUGH_REPLICAS,
        BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        BK_ERR_NOT_CONTROLLER,
        BK_ERR_CONCURRENT_TRANSACTIONS,
        BK_ERR_KAFKA_STORAGE_ERROR,
        BK_ERR_FETCH_SESSION_ID_NOT_FOUND,
        BK_ERR_INVALID_FETCH_SESSION_EPOCH,
        BK_ERR_LISTENER_NOT_FOUND,
        BK_ERR_FENCED_LEADER_EPOCH,
        BK_ERR_UNKNOWN_LEADER_EPOCH,
        BK_ERR_OFFSET_NOT_AVAILABLE,
        BK_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
        BK_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
        BK_ERR_ELECTION_NOT_NEEDED,
        BK_ERR_UNSTABLE_OFFSET_COMMIT,
        BK_ERR_THROTTLING_QUOTA_EXCEEDED,
    };
    size_t n = sizeof retriable / sizeof retriable[0];
    int count = 0;
    for (int c = BK_ERRCODE_MIN; c <= BK_ERRCODE_MAX; c++) {
        bool want = false;
        for (size_t i = 0; i < n; i++)
            want = want || retriable[i] == c;
        if (bk_err_retriable(c) != want) {
            printf("code %d (%s): retriable %d, expected %d\n", c,
                   bk_err_name(c), bk_err_retriable(c), want);
            CU_FAIL("retriable set");
        }
        count += bk_err_retriable(c);
    }
    CU_ASSERT_EQUAL(count, (int)n);
    /* The ones the broker and client lean on, spelled out. */
    CU_ASSERT_TRUE(bk_err_retriable(BK_ERR_NOT_LEADER_FOR_PARTITION));
    CU_ASSERT_TRUE(bk_err_retriable(BK_ERR_NOT_ENOUGH_REPLICAS));
    CU_ASSERT_TRUE(bk_err_retriable(BK_ERR_LEADER_NOT_AVAILABLE));
    CU_ASSERT_TRUE(bk_err_retriable(BK_ERR_REQUEST_TIMED_OUT));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_NO_ERROR));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_UNKNOWN));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_OFFSET_OUT_OF_RANGE));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_MSG_SIZE_TOO_LARGE));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_TOPIC_ALREADY_EXISTS));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_REBALANCE_IN_PROGRESS));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_STALE_CTRL_EPOCH));
    CU_ASSERT_FALSE(bk_err_retriable(BK_ERR_INVALID_REQUEST));
}

static void test_err_unknown_codes(void)
{
    static const int bad[] = {-2,     -3,    -199,       -200,
                              98,     99,    1000,       32767,
                              -32768, 65535, 2147483647, -2147483647 - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_STRING_EQUAL(bk_err_name(bad[i]), "UNKNOWN_ERROR_CODE");
        CU_ASSERT_STRING_EQUAL(bk_err_message(bad[i]), "unknown error code");
        CU_ASSERT(strncmp(bk_err_name(bad[i]), "UNKNOWN", 7) == 0);
        CU_ASSERT_FALSE(bk_err_retriable(bad[i]));
    }
}

struct api_fact {
    int key;
    const char *name;
    int number;
};
#define API_FACT(KEY, NAME, N) {BK_API_##KEY, NAME, N},
static const struct api_fact api_facts[] = {KAFKA_APIS(API_FACT)};
#undef API_FACT
#define N_API_FACTS (sizeof api_facts / sizeof api_facts[0])

static void test_api_names(void)
{
    CU_ASSERT_EQUAL(N_API_FACTS, BK_API_KEY_MAX + 1);
    for (size_t i = 0; i < N_API_FACTS; i++) {
        CU_ASSERT_EQUAL(api_facts[i].key, api_facts[i].number);
        CU_ASSERT_STRING_EQUAL(bk_api_name(api_facts[i].key),
                               api_facts[i].name);
    }
    static const int bad[] = {-1, -32768, BK_API_KEY_MAX + 1, 1000, 32767};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_STRING_EQUAL(bk_api_name(bad[i]), "UnknownApi");
        CU_ASSERT_EQUAL(bk_api_max_version(bad[i]), -1);
        CU_ASSERT_FALSE(bk_api_supported(bad[i]));
    }
}

/* Brook serves exactly the APIs of DESIGN.md section 4, at version 0. */
static void test_api_supported(void)
{
    static const int served[] = {
        BK_API_PRODUCE,
        BK_API_FETCH,
        BK_API_LIST_OFFSETS,
        BK_API_METADATA,
        BK_API_LEADER_AND_ISR,
        BK_API_STOP_REPLICA,
        BK_API_UPDATE_METADATA,
        BK_API_CONTROLLED_SHUTDOWN,
        BK_API_OFFSET_COMMIT,
        BK_API_OFFSET_FETCH,
        BK_API_FIND_COORDINATOR,
        BK_API_JOIN_GROUP,
        BK_API_HEARTBEAT,
        BK_API_LEAVE_GROUP,
        BK_API_SYNC_GROUP,
        BK_API_DESCRIBE_GROUPS,
        BK_API_LIST_GROUPS,
        BK_API_API_VERSIONS,
        BK_API_CREATE_TOPICS,
        BK_API_DELETE_TOPICS,
        BK_API_OFFSET_FOR_LEADER_EPOCH,
        BK_API_DESCRIBE_CONFIGS,
    };
    size_t n = sizeof served / sizeof served[0];
    CU_ASSERT_EQUAL(n, 22);
    int count = 0;
    for (int k = 0; k <= BK_API_KEY_MAX; k++) {
        bool want = false;
        for (size_t i = 0; i < n; i++)
            want = want || served[i] == k;
        CU_ASSERT_EQUAL(bk_api_supported(k), want);
        CU_ASSERT_EQUAL(bk_api_max_version(k), want ? 0 : -1);
        count += bk_api_supported(k);
    }
    CU_ASSERT_EQUAL(count, (int)n);
    CU_ASSERT_FALSE(bk_api_supported(BK_API_SASL_HANDSHAKE));
    CU_ASSERT_FALSE(bk_api_supported(BK_API_INIT_PRODUCER_ID));
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"error names and messages", test_err_names_messages},
        {"retriable errors", test_err_retriable},
        {"unknown error codes", test_err_unknown_codes},
        {"api names", test_api_names},
        {"apis served", test_api_supported},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("protocol", tests);
}
