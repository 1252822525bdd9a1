/*
 * protocol.c -- names, messages and properties of Brook's protocol numbers
 * (see protocol.h).
 *
 * Both tables are indexed by number with designated initializers built from
 * the enum names, so a name string can never drift from its enum constant;
 * the unit test checks that no slot is left empty.
 */
#include "proto/protocol.h"

#include <stddef.h>

struct err_info {
    const char *name;
    const char *message;
    bool retriable; /* Kafka: the exception extends RetriableException */
};

/* R: retriable, F: not.  Messages are Brook's own short wording. */
#define R(NAME, msg) [BK_ERR_##NAME - BK_ERRCODE_MIN] = {#NAME, msg, true}
#define F(NAME, msg) [BK_ERR_##NAME - BK_ERRCODE_MIN] = {#NAME, msg, false}

static const struct err_info err_table[BK_ERRCODE_MAX - BK_ERRCODE_MIN + 1] = {
    F(UNKNOWN, "unexpected server error"),
    F(NO_ERROR, "success"),
    F(OFFSET_OUT_OF_RANGE, "offset outside the partition's log"),
    R(INVALID_MSG, "corrupt record batch (bad CRC or format)"),
    R(UNKNOWN_TOPIC_OR_PART, "topic or partition not hosted here"),
    F(INVALID_MSG_SIZE, "invalid fetch size"),
    R(LEADER_NOT_AVAILABLE, "partition has no leader at the moment"),
    R(NOT_LEADER_FOR_PARTITION,
      "this broker is not the partition's leader or follower"),
    R(REQUEST_TIMED_OUT, "request timed out"),
    F(BROKER_NOT_AVAILABLE, "broker not available"),
    R(REPLICA_NOT_AVAILABLE, "replica not available"),
    F(MSG_SIZE_TOO_LARGE, "record batch above the size limit"),
    F(STALE_CTRL_EPOCH, "request from a controller with an old epoch"),
    F(OFFSET_METADATA_TOO_LARGE, "offset commit metadata too long"),
    R(NETWORK_EXCEPTION, "connection closed before the response"),
    R(COORDINATOR_LOAD_IN_PROGRESS, "coordinator still loading its state"),
    R(COORDINATOR_NOT_AVAILABLE, "coordinator not available"),
    R(NOT_COORDINATOR, "this broker is not the coordinator"),
    F(TOPIC_EXCEPTION, "invalid topic name"),
    F(RECORD_LIST_TOO_LARGE, "partition data larger than a segment"),
    R(NOT_ENOUGH_REPLICAS, "in-sync replicas below min.insync.replicas"),
    R(NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      "appended, but in-sync replicas fell below the minimum"),
    F(INVALID_REQUIRED_ACKS, "acks must be -1, 0 or 1"),
    F(ILLEGAL_GENERATION, "stale group generation"),
    F(INCONSISTENT_GROUP_PROTOCOL, "member protocols do not match the group"),
    F(INVALID_GROUP_ID, "invalid group id"),
    F(UNKNOWN_MEMBER_ID, "member id unknown to the coordinator"),
    F(INVALID_SESSION_TIMEOUT, "session timeout outside the allowed range"),
    F(REBALANCE_IN_PROGRESS, "group is rebalancing, rejoin"),
    F(INVALID_COMMIT_OFFSET_SIZE, "invalid size of committed offset data"),
    F(TOPIC_AUTHORIZATION_FAILED, "not authorized for the topic"),
    F(GROUP_AUTHORIZATION_FAILED, "not authorized for the group"),
    F(CLUSTER_AUTHORIZATION_FAILED, "not authorized for the cluster"),
    F(INVALID_TIMESTAMP, "record timestamp outside the accepted range"),
    F(UNSUPPORTED_SASL_MECHANISM, "SASL mechanism not enabled"),
    F(ILLEGAL_SASL_STATE, "request invalid in the SASL state"),
    F(UNSUPPORTED_VERSION, "API version not supported"),
    F(TOPIC_ALREADY_EXISTS, "topic already exists"),
    F(INVALID_PARTITIONS, "invalid partition count"),
    F(INVALID_REPLICATION_FACTOR, "invalid replication factor"),
    F(INVALID_REPLICA_ASSIGNMENT, "invalid replica assignment"),
    F(INVALID_CONFIG, "invalid configuration"),
    R(NOT_CONTROLLER, "this broker is not the controller"),
    F(INVALID_REQUEST, "malformed or invalid request"),
    F(UNSUPPORTED_FOR_MESSAGE_FORMAT, "not supported by the record format"),
    F(POLICY_VIOLATION, "request violates a policy"),
    F(OUT_OF_ORDER_SEQUENCE_NUMBER, "producer sequence out of order"),
    F(DUPLICATE_SEQUENCE_NUMBER, "producer sequence duplicated"),
    F(INVALID_PRODUCER_EPOCH, "stale producer epoch"),
    F(INVALID_TXN_STATE, "invalid in the transaction's state"),
    F(INVALID_PRODUCER_ID_MAPPING,
      "producer id not mapped to the transactional id"),
    F(INVALID_TRANSACTION_TIMEOUT, "transaction timeout above the maximum"),
    R(CONCURRENT_TRANSACTIONS, "another transaction operation in progress"),
    F(TRANSACTION_COORDINATOR_FENCED, "transaction coordinator superseded"),
    F(TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      "not authorized for the transactional id"),
    F(SECURITY_DISABLED, "security features disabled"),
    F(OPERATION_NOT_ATTEMPTED,
      "not attempted: another operation in the batch failed"),
    R(KAFKA_STORAGE_ERROR, "disk error on the broker"),
    F(LOG_DIR_NOT_FOUND, "log directory not found"),
    F(SASL_AUTHENTICATION_FAILED, "SASL authentication failed"),
    F(UNKNOWN_PRODUCER_ID, "producer id unknown to the broker"),
    F(REASSIGNMENT_IN_PROGRESS, "partition reassignment in progress"),
    F(DELEGATION_TOKEN_AUTH_DISABLED, "delegation tokens disabled"),
    F(DELEGATION_TOKEN_NOT_FOUND, "delegation token not found"),
    F(DELEGATION_TOKEN_OWNER_MISMATCH, "principal does not own the token"),
    F(DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
      "token requests not allowed on this channel"),
    F(DELEGATION_TOKEN_AUTHORIZATION_FAILED, "not authorized for the token"),
    F(DELEGATION_TOKEN_EXPIRED, "delegation token expired"),
    F(INVALID_PRINCIPAL_TYPE, "unsupported principal type"),
    F(NON_EMPTY_GROUP, "group still has members"),
    F(GROUP_ID_NOT_FOUND, "group not found"),
    R(FETCH_SESSION_ID_NOT_FOUND, "fetch session not found"),
    R(INVALID_FETCH_SESSION_EPOCH, "fetch session epoch mismatch"),
    R(LISTENER_NOT_FOUND, "leader has no endpoint for the listener"),
    F(TOPIC_DELETION_DISABLED, "topic deletion disabled"),
    R(FENCED_LEADER_EPOCH, "leader epoch older than the broker's"),
    R(UNKNOWN_LEADER_EPOCH, "leader epoch newer than the broker's"),
    F(UNSUPPORTED_COMPRESSION_TYPE, "compression type not supported"),
    F(STALE_BROKER_EPOCH, "stale broker epoch"),
    R(OFFSET_NOT_AVAILABLE, "offset not available yet"),
    F(MEMBER_ID_REQUIRED, "rejoin with the member id given"),
    R(PREFERRED_LEADER_NOT_AVAILABLE, "preferred leader not available"),
    F(GROUP_MAX_SIZE_REACHED, "group at its maximum size"),
    F(FENCED_INSTANCE_ID, "static member replaced by a newer instance"),
    R(ELIGIBLE_LEADERS_NOT_AVAILABLE, "no eligible leader"),
    R(ELECTION_NOT_NEEDED, "leader election not needed"),
    F(NO_REASSIGNMENT_IN_PROGRESS, "no reassignment in progress"),
    F(GROUP_SUBSCRIBED_TO_TOPIC, "group subscribed to the topic"),
    F(INVALID_RECORD, "record rejected by broker validation"),
    R(UNSTABLE_OFFSET_COMMIT, "transactional offsets pending"),
    R(THROTTLING_QUOTA_EXCEEDED, "throttling quota exceeded"),
    F(PRODUCER_FENCED, "producer fenced by a newer instance"),
    F(RESOURCE_NOT_FOUND, "resource not found"),
    F(DUPLICATE_RESOURCE, "resource named twice"),
    F(UNACCEPTABLE_CREDENTIAL, "credential rejected"),
    F(INCONSISTENT_VOTER_SET, "inconsistent voter set"),
    F(INVALID_UPDATE_VERSION, "invalid feature version"),
    F(FEATURE_UPDATE_FAILED, "feature update failed"),
    F(PRINCIPAL_DESERIALIZATION_FAILURE, "principal could not be decoded"),
};

#undef R
#undef F

static const struct err_info *err_lookup(int code)
{
    if (code < BK_ERRCODE_MIN || code > BK_ERRCODE_MAX)
        return NULL;
    const struct err_info *e = &err_table[code - BK_ERRCODE_MIN];
    /* Every slot is filled (test_protocol checks), but a hole must not turn
     * into a NULL name in a log line. */
    return e->name ? e : NULL;
}

const char *bk_err_name(int code)
{
    const struct err_info *e = err_lookup(code);
    return e ? e->name : "UNKNOWN_ERROR_CODE";
}

const char *bk_err_message(int code)
{
    const struct err_info *e = err_lookup(code);
    return e ? e->message : "unknown error code";
}

bool bk_err_retriable(int code)
{
    const struct err_info *e = err_lookup(code);
    return e && e->retriable;
}

struct api_info {
    const char *name; /* Kafka's name */
    int max_version;  /* Brook's highest message version, -1: not served */
};

/* S: served by Brook (version 0 of its protobuf message), N: named only. */
#define S(KEY, name) [BK_API_##KEY] = {name, 0}
#define N(KEY, name) [BK_API_##KEY] = {name, -1}

static const struct api_info api_table[BK_API_KEY_MAX + 1] = {
    S(PRODUCE, "Produce"),
    S(FETCH, "Fetch"),
    S(LIST_OFFSETS, "ListOffsets"),
    S(METADATA, "Metadata"),
    S(LEADER_AND_ISR, "LeaderAndIsr"),
    S(STOP_REPLICA, "StopReplica"),
    S(UPDATE_METADATA, "UpdateMetadata"),
    S(CONTROLLED_SHUTDOWN, "ControlledShutdown"),
    S(OFFSET_COMMIT, "OffsetCommit"),
    S(OFFSET_FETCH, "OffsetFetch"),
    S(FIND_COORDINATOR, "FindCoordinator"),
    S(JOIN_GROUP, "JoinGroup"),
    S(HEARTBEAT, "Heartbeat"),
    S(LEAVE_GROUP, "LeaveGroup"),
    S(SYNC_GROUP, "SyncGroup"),
    S(DESCRIBE_GROUPS, "DescribeGroups"),
    S(LIST_GROUPS, "ListGroups"),
    N(SASL_HANDSHAKE, "SaslHandshake"),
    S(API_VERSIONS, "ApiVersions"),
    S(CREATE_TOPICS, "CreateTopics"),
    S(DELETE_TOPICS, "DeleteTopics"),
    N(DELETE_RECORDS, "DeleteRecords"),
    N(INIT_PRODUCER_ID, "InitProducerId"),
    S(OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch"),
    N(ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn"),
    N(ADD_OFFSETS_TO_TXN, "AddOffsetsToTxn"),
    N(END_TXN, "EndTxn"),
    N(WRITE_TXN_MARKERS, "WriteTxnMarkers"),
    N(TXN_OFFSET_COMMIT, "TxnOffsetCommit"),
    N(DESCRIBE_ACLS, "DescribeAcls"),
    N(CREATE_ACLS, "CreateAcls"),
    N(DELETE_ACLS, "DeleteAcls"),
    S(DESCRIBE_CONFIGS, "DescribeConfigs"),
    N(ALTER_CONFIGS, "AlterConfigs"),
    N(ALTER_REPLICA_LOG_DIRS, "AlterReplicaLogDirs"),
    N(DESCRIBE_LOG_DIRS, "DescribeLogDirs"),
    N(SASL_AUTHENTICATE, "SaslAuthenticate"),
    N(CREATE_PARTITIONS, "CreatePartitions"),
    N(CREATE_DELEGATION_TOKEN, "CreateDelegationToken"),
    N(RENEW_DELEGATION_TOKEN, "RenewDelegationToken"),
    N(EXPIRE_DELEGATION_TOKEN, "ExpireDelegationToken"),
    N(DESCRIBE_DELEGATION_TOKEN, "DescribeDelegationToken"),
    N(DELETE_GROUPS, "DeleteGroups"),
    N(ELECT_LEADERS, "ElectLeaders"),
    N(INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs"),
    N(ALTER_PARTITION_REASSIGNMENTS, "AlterPartitionReassignments"),
    N(LIST_PARTITION_REASSIGNMENTS, "ListPartitionReassignments"),
    N(OFFSET_DELETE, "OffsetDelete"),
    N(DESCRIBE_CLIENT_QUOTAS, "DescribeClientQuotas"),
    N(ALTER_CLIENT_QUOTAS, "AlterClientQuotas"),
    N(DESCRIBE_USER_SCRAM_CREDENTIALS, "DescribeUserScramCredentials"),
    N(ALTER_USER_SCRAM_CREDENTIALS, "AlterUserScramCredentials"),
    N(VOTE, "Vote"),
    N(BEGIN_QUORUM_EPOCH, "BeginQuorumEpoch"),
    N(END_QUORUM_EPOCH, "EndQuorumEpoch"),
    N(DESCRIBE_QUORUM, "DescribeQuorum"),
    N(ALTER_PARTITION, "AlterPartition"),
    N(UPDATE_FEATURES, "UpdateFeatures"),
    N(ENVELOPE, "Envelope"),
    N(FETCH_SNAPSHOT, "FetchSnapshot"),
    N(DESCRIBE_CLUSTER, "DescribeCluster"),
    N(DESCRIBE_PRODUCERS, "DescribeProducers"),
    N(BROKER_REGISTRATION, "BrokerRegistration"),
    N(BROKER_HEARTBEAT, "BrokerHeartbeat"),
    N(UNREGISTER_BROKER, "UnregisterBroker"),
    N(DESCRIBE_TRANSACTIONS, "DescribeTransactions"),
    N(LIST_TRANSACTIONS, "ListTransactions"),
    N(ALLOCATE_PRODUCER_IDS, "AllocateProducerIds"),
    N(CONSUMER_GROUP_HEARTBEAT, "ConsumerGroupHeartbeat"),
    N(CONSUMER_GROUP_DESCRIBE, "ConsumerGroupDescribe"),
    N(CONTROLLER_REGISTRATION, "ControllerRegistration"),
    N(GET_TELEMETRY_SUBSCRIPTIONS, "GetTelemetrySubscriptions"),
    N(PUSH_TELEMETRY, "PushTelemetry"),
    N(ASSIGN_REPLICAS_TO_DIRS, "AssignReplicasToDirs"),
};

#undef S
#undef N

static const struct api_info *api_lookup(int api_key)
{
    if (api_key < 0 || api_key > BK_API_KEY_MAX || !api_table[api_key].name)
        return NULL;
    return &api_table[api_key];
}

const char *bk_api_name(int api_key)
{
    const struct api_info *a = api_lookup(api_key);
    return a ? a->name : "UnknownApi";
}

int bk_api_max_version(int api_key)
{
    const struct api_info *a = api_lookup(api_key);
    return a ? a->max_version : -1;
}

bool bk_api_supported(int api_key)
{
    return bk_api_max_version(api_key) >= 0;
}
