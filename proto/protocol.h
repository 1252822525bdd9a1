/*
 * protocol.h -- the numbers of Brook's native protocol: API keys and error
 * codes.
 *
 * Brook speaks length-prefixed protobuf frames (proto/brook.proto,
 * common/frame.h), but every number that travels in them is Kafka's own:
 * API keys are those of the Kafka protocol (clients/src/main/resources/
 * common/message/<Name>Request.json, "apiKey") and error codes are those of
 * librdkafka's rd_kafka_resp_err_t, which are Kafka's protocol error codes
 * under librdkafka's names (DESIGN.md section 4).  Keeping the numbers means
 * that logs, metrics and operator knowledge carry over, and that a later
 * Kafka-wire listener can reuse the handlers unchanged.
 * tests/unit/test_protocol.c checks every number at compile time against
 * <librdkafka/rdkafka.h> and a table of the Kafka message specs.
 *
 * Where Kafka renamed an error (NOT_LEADER_FOR_PARTITION became
 * NOT_LEADER_OR_FOLLOWER, INVALID_MSG is Kafka's CORRUPT_MESSAGE...) Brook
 * keeps librdkafka's spelling, one name per number.
 *
 * API keys not marked "Brook" below are listed so that a number seen on the
 * wire can be named in a log line; Brook does not implement them.
 *
 * Everything here is constant data: any thread may call these functions.
 */
#ifndef BK_PROTOCOL_H
#define BK_PROTOCOL_H

#include <stdbool.h>

/* API keys: Kafka's numbers.  Kafka names: bk_api_name(). */
enum bk_api_key {
    BK_API_PRODUCE = 0,             /* Brook */
    BK_API_FETCH = 1,               /* Brook */
    BK_API_LIST_OFFSETS = 2,        /* Brook */
    BK_API_METADATA = 3,            /* Brook */
    BK_API_LEADER_AND_ISR = 4,      /* Brook */
    BK_API_STOP_REPLICA = 5,        /* Brook */
    BK_API_UPDATE_METADATA = 6,     /* Brook */
    BK_API_CONTROLLED_SHUTDOWN = 7, /* Brook */
    BK_API_OFFSET_COMMIT = 8,       /* Brook */
    BK_API_OFFSET_FETCH = 9,        /* Brook */
    BK_API_FIND_COORDINATOR = 10,   /* Brook */
    BK_API_JOIN_GROUP = 11,         /* Brook */
    BK_API_HEARTBEAT = 12,          /* Brook */
    BK_API_LEAVE_GROUP = 13,        /* Brook */
    BK_API_SYNC_GROUP = 14,         /* Brook */
    BK_API_DESCRIBE_GROUPS = 15,    /* Brook */
    BK_API_LIST_GROUPS = 16,        /* Brook */
    BK_API_SASL_HANDSHAKE = 17,
    BK_API_API_VERSIONS = 18,  /* Brook */
    BK_API_CREATE_TOPICS = 19, /* Brook */
    BK_API_DELETE_TOPICS = 20, /* Brook */
    BK_API_DELETE_RECORDS = 21,
    BK_API_INIT_PRODUCER_ID = 22,
    BK_API_OFFSET_FOR_LEADER_EPOCH = 23, /* Brook */
    BK_API_ADD_PARTITIONS_TO_TXN = 24,
    BK_API_ADD_OFFSETS_TO_TXN = 25,
    BK_API_END_TXN = 26,
    BK_API_WRITE_TXN_MARKERS = 27,
    BK_API_TXN_OFFSET_COMMIT = 28,
    BK_API_DESCRIBE_ACLS = 29,
    BK_API_CREATE_ACLS = 30,
    BK_API_DELETE_ACLS = 31,
    BK_API_DESCRIBE_CONFIGS = 32,
    BK_API_ALTER_CONFIGS = 33,
    BK_API_ALTER_REPLICA_LOG_DIRS = 34,
    BK_API_DESCRIBE_LOG_DIRS = 35,
    BK_API_SASL_AUTHENTICATE = 36,
    BK_API_CREATE_PARTITIONS = 37,
    BK_API_CREATE_DELEGATION_TOKEN = 38,
    BK_API_RENEW_DELEGATION_TOKEN = 39,
    BK_API_EXPIRE_DELEGATION_TOKEN = 40,
    BK_API_DESCRIBE_DELEGATION_TOKEN = 41,
    BK_API_DELETE_GROUPS = 42,
    BK_API_ELECT_LEADERS = 43,
    BK_API_INCREMENTAL_ALTER_CONFIGS = 44,
    BK_API_ALTER_PARTITION_REASSIGNMENTS = 45,
    BK_API_LIST_PARTITION_REASSIGNMENTS = 46,
    BK_API_OFFSET_DELETE = 47,
    BK_API_DESCRIBE_CLIENT_QUOTAS = 48,
    BK_API_ALTER_CLIENT_QUOTAS = 49,
    BK_API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
    BK_API_ALTER_USER_SCRAM_CREDENTIALS = 51,
    BK_API_VOTE = 52,
    BK_API_BEGIN_QUORUM_EPOCH = 53,
    BK_API_END_QUORUM_EPOCH = 54,
    BK_API_DESCRIBE_QUORUM = 55,
    BK_API_ALTER_PARTITION = 56,
    BK_API_UPDATE_FEATURES = 57,
    BK_API_ENVELOPE = 58,
    BK_API_FETCH_SNAPSHOT = 59,
    BK_API_DESCRIBE_CLUSTER = 60,
    BK_API_DESCRIBE_PRODUCERS = 61,
    BK_API_BROKER_REGISTRATION = 62,
    BK_API_BROKER_HEARTBEAT = 63,
    BK_API_UNREGISTER_BROKER = 64,
    BK_API_DESCRIBE_TRANSACTIONS = 65,
    BK_API_LIST_TRANSACTIONS = 66,
    BK_API_ALLOCATE_PRODUCER_IDS = 67,
    BK_API_CONSUMER_GROUP_HEARTBEAT = 68,
    BK_API_CONSUMER_GROUP_DESCRIBE = 69,
    BK_API_CONTROLLER_REGISTRATION = 70,
    BK_API_GET_TELEMETRY_SUBSCRIPTIONS = 71,
    BK_API_PUSH_TELEMETRY = 72,
    BK_API_ASSIGN_REPLICAS_TO_DIRS = 73,
};

/* Highest API key this header names. */
#define BK_API_KEY_MAX 73

/*
 * Error codes: librdkafka's rd_kafka_resp_err_t values -1..97 (the broker
 * error codes; librdkafka's internal "__" codes below -1 are not protocol
 * codes and are not here).  On the wire they travel in int32 error_code
 * fields of brook.proto; Kafka's own wire type is int16, and every value
 * fits in it.
 */
enum bk_err_code {
    BK_ERR_UNKNOWN = -1,
    BK_ERR_NO_ERROR = 0,
    BK_ERR_OFFSET_OUT_OF_RANGE = 1,
    BK_ERR_INVALID_MSG = 2,
    BK_ERR_UNKNOWN_TOPIC_OR_PART = 3,
    BK_ERR_INVALID_MSG_SIZE = 4,
    BK_ERR_LEADER_NOT_AVAILABLE = 5,
    BK_ERR_NOT_LEADER_FOR_PARTITION = 6,
    BK_ERR_REQUEST_TIMED_OUT = 7,
    BK_ERR_BROKER_NOT_AVAILABLE = 8,
    BK_ERR_REPLICA_NOT_AVAILABLE = 9,
    BK_ERR_MSG_SIZE_TOO_LARGE = 10,
    BK_ERR_STALE_CTRL_EPOCH = 11,
    BK_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    BK_ERR_NETWORK_EXCEPTION = 13,
    BK_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    BK_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    BK_ERR_NOT_COORDINATOR = 16,
    BK_ERR_TOPIC_EXCEPTION = 17,
    BK_ERR_RECORD_LIST_TOO_LARGE = 18,
    BK_ERR_NOT_ENOUGH_REPLICAS = 19,
    BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    BK_ERR_INVALID_REQUIRED_ACKS = 21,
    BK_ERR_ILLEGAL_GENERATION = 22,
    BK_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    BK_ERR_INVALID_GROUP_ID = 24,
    BK_ERR_UNKNOWN_MEMBER_ID = 25,
    BK_ERR_INVALID_SESSION_TIMEOUT = 26,
    BK_ERR_REBALANCE_IN_PROGRESS = 27,
    BK_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    BK_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
    BK_ERR_GROUP_AUTHORIZATION_FAILED = 30,
    BK_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    BK_ERR_INVALID_TIMESTAMP = 32,
    BK_ERR_UNSUPPORTED_SASL_MECHANISM = 33,
    BK_ERR_ILLEGAL_SASL_STATE = 34,
    BK_ERR_UNSUPPORTED_VERSION = 35,
    BK_ERR_TOPIC_ALREADY_EXISTS = 36,
    BK_ERR_INVALID_PARTITIONS = 37,
    BK_ERR_INVALID_REPLICATION_FACTOR = 38,
    BK_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
    BK_ERR_INVALID_CONFIG = 40,
    BK_ERR_NOT_CONTROLLER = 41,
    BK_ERR_INVALID_REQUEST = 42,
    BK_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    BK_ERR_POLICY_VIOLATION = 44,
    BK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    BK_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    BK_ERR_INVALID_PRODUCER_EPOCH = 47,
    BK_ERR_INVALID_TXN_STATE = 48,
    BK_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
    BK_ERR_INVALID_TRANSACTION_TIMEOUT = 50,
    BK_ERR_CONCURRENT_TRANSACTIONS = 51,
    BK_ERR_TRANSACTION_COORDINATOR_FENCED = 52,
    BK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    BK_ERR_SECURITY_DISABLED = 54,
    BK_ERR_OPERATION_NOT_ATTEMPTED = 55,
    BK_ERR_KAFKA_STORAGE_ERROR = 56,
    BK_ERR_LOG_DIR_NOT_FOUND = 57,
    BK_ERR_SASL_AUTHENTICATION_FAILED = 58,
    BK_ERR_UNKNOWN_PRODUCER_ID = 59,
    BK_ERR_REASSIGNMENT_IN_PROGRESS = 60,
    BK_ERR_DELEGATION_TOKEN_AUTH_DISABLED = 61,
    BK_ERR_DELEGATION_TOKEN_NOT_FOUND = 62,
    BK_ERR_DELEGATION_TOKEN_OWNER_MISMATCH = 63,
    BK_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64,
    BK_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65,
    BK_ERR_DELEGATION_TOKEN_EXPIRED = 66,
    BK_ERR_INVALID_PRINCIPAL_TYPE = 67,
    BK_ERR_NON_EMPTY_GROUP = 68,
    BK_ERR_GROUP_ID_NOT_FOUND = 69,
    BK_ERR_FETCH_SESSION_ID_NOT_FOUND = 70,
    BK_ERR_INVALID_FETCH_SESSION_EPOCH = 71,
    BK_ERR_LISTENER_NOT_FOUND = 72,
    BK_ERR_TOPIC_DELETION_DISABLED = 73,
    BK_ERR_FENCED_LEADER_EPOCH = 74,
    BK_ERR_UNKNOWN_LEADER_EPOCH = 75,
    BK_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    BK_ERR_STALE_BROKER_EPOCH = 77,
    BK_ERR_OFFSET_NOT_AVAILABLE = 78,
    BK_ERR_MEMBER_ID_REQUIRED = 79,
    BK_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    BK_ERR_GROUP_MAX_SIZE_REACHED = 81,
    BK_ERR_FENCED_INSTANCE_ID = 82,
    BK_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    BK_ERR_ELECTION_NOT_NEEDED = 84,
    BK_ERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    BK_ERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    BK_ERR_INVALID_RECORD = 87,
    BK_ERR_UNSTABLE_OFFSET_COMMIT = 88,
    BK_ERR_THROTTLING_QUOTA_EXCEEDED = 89,
    BK_ERR_PRODUCER_FENCED = 90,
    BK_ERR_RESOURCE_NOT_FOUND = 91,
    BK_ERR_DUPLICATE_RESOURCE = 92,
    BK_ERR_UNACCEPTABLE_CREDENTIAL = 93,
    BK_ERR_INCONSISTENT_VOTER_SET = 94,
    BK_ERR_INVALID_UPDATE_VERSION = 95,
    BK_ERR_FEATURE_UPDATE_FAILED = 96,
    BK_ERR_PRINCIPAL_DESERIALIZATION_FAILURE = 97,
};

/* Lowest and highest error code this header names; every value in between
 * is defined. */
#define BK_ERRCODE_MIN (-1)
#define BK_ERRCODE_MAX 97

/*
 * brook.proto carries the body of API key k in field number
 * BK_BODY_FIELD(k) of the Request and Response oneofs, so a body's field
 * number tells its API key (e.g. produce = 10, fetch = 11).
 */
#define BK_BODY_FIELD_BASE     10
#define BK_BODY_FIELD(api_key) (BK_BODY_FIELD_BASE + (api_key))

/* DescribeConfigs: Kafka's resource types (ConfigResource.Type) and the
 * config sources (DescribeConfigsResponse.ConfigSource), same numbers. */
#define BK_RESOURCE_TOPIC  2
#define BK_RESOURCE_BROKER 4
#define BK_CFG_SRC_TOPIC          1 /* TOPIC_CONFIG: /config/topics/<t> */
#define BK_CFG_SRC_DYN_BROKER     2 /* DYNAMIC_BROKER_CONFIG: .../<id> */
#define BK_CFG_SRC_DYN_DEFAULT    3 /* DYNAMIC_DEFAULT_BROKER_CONFIG */
#define BK_CFG_SRC_STATIC_BROKER  4 /* STATIC_BROKER_CONFIG: properties */
#define BK_CFG_SRC_DEFAULT        5 /* DEFAULT_CONFIG: built in */

/* The error's name without prefix ("NOT_LEADER_FOR_PARTITION"); for a code
 * outside BK_ERRCODE_MIN..MAX, "UNKNOWN_ERROR_CODE".  Static string. */
const char *bk_err_name(int code);

/* A short human-readable message for the code (Brook's own wording); for a
 * code outside the range, "unknown error code".  Static string. */
const char *bk_err_message(int code);

/* True when Kafka classes the error as retriable (its exception extends
 * RetriableException): the same request may succeed later, usually after a
 * metadata refresh (leader moved, coordinator loading, ISR too small...).
 * False for success, for unknown codes and for everything else. */
bool bk_err_retriable(int code);

/* Kafka's name of the API ("Produce", "OffsetForLeaderEpoch"); for an
 * unknown key, "UnknownApi".  Static string. */
const char *bk_api_name(int api_key);

/* The highest api_version of Brook's protobuf message for this key (0 for
 * every API Brook serves today), or -1 when Brook does not serve the API.
 * This is what ApiVersions answers; a request with a higher version gets
 * UNSUPPORTED_VERSION. */
int bk_api_max_version(int api_key);

/* True when Brook serves the API (bk_api_max_version() >= 0). */
bool bk_api_supported(int api_key);

#endif
