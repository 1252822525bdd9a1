/*
 * frame.h -- length-prefixed protobuf frames, Brook's unit of transport
 * (DESIGN.md section 4, proto/brook.proto).
 *
 * A frame is a 4-byte big-endian length followed by that many payload
 * bytes, one protobuf Request or Response.  Lengths <= 0 are invalid (an
 * empty message has nothing to answer) and lengths above a configured
 * maximum are refused as soon as the 4 length bytes arrive, before any
 * payload is buffered.
 *
 * Reading works on a connection's input bk_buf filled by non-blocking
 * reads, in the manner of Redis's query buffer: after each read the caller
 * pulls every complete frame out with bk_frame_dec_next() (payloads point
 * into the buffer, no copy), handles them, then calls bk_frame_dec_compact()
 * once to drop the consumed bytes.  A partial frame just waits for more
 * bytes (BK_AGAIN).  A bad length loses the framing for good: the decoder
 * stays in error and the caller answers if it can (bk_frame_peek_header()
 * on the bytes received so far) and closes.
 *
 * Writing packs a message straight into the output buffer behind its
 * length prefix (one pass, no intermediate copy).
 *
 * Decoding a payload into a Brook__Request / Brook__Response uses protobuf-c
 * and fails cleanly on any malformed input (-BK_EINVAL, nothing leaked).
 * Note that protobuf-c copies `bytes` fields (records) out of the payload,
 * so the decoded message does not point into the input buffer.
 *
 * Nothing here is shared: a decoder and its buffer belong to one thread.
 */
#ifndef BK_FRAME_H
#define BK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/brook.pb-c.h"

#define BK_FRAME_LEN_SIZE 4
/* The broker's default limit on a frame's payload (max frame size). */
#define BK_FRAME_DEFAULT_MAX (100u * 1024 * 1024)
/* The largest payload the int32 length can express. */
#define BK_FRAME_WIRE_MAX ((uint32_t)INT32_MAX)

/* ----------------------------- reading ----------------------------- */

/* Per-connection decoding state; the bytes live in the caller's bk_buf. */
typedef struct bk_frame_dec {
    uint32_t max_size; /* largest accepted payload length, bytes */
    size_t pos;        /* offset in the buffer of the next frame */
    int err;           /* 0, or the sticky -BK_E* once framing is lost */
} bk_frame_dec;

/* Prepares a decoder; 1 <= max_size <= BK_FRAME_WIRE_MAX. */
void bk_frame_dec_init(bk_frame_dec *d, uint32_t max_size);

/*
 * Takes the next complete frame from `in` (bytes from d->pos on).
 *   0           *payload and *len give the payload, which points into
 *               in->data and stays valid until `in` is changed (appended
 *               to, compacted, freed).  *len >= 1.
 *   BK_AGAIN    the frame is not complete yet: read more, call again.
 *   -BK_ETOOBIG the length exceeds max_size;
 *   -BK_EINVAL  the length is zero or negative.
 * Errors are sticky: every later call returns the same error, because the
 * stream can no longer be split into frames.
 */
int bk_frame_dec_next(bk_frame_dec *d, const bk_buf *in,
                      const uint8_t **payload, size_t *len);

/*
 * How many more bytes the current frame needs: 0 when bk_frame_dec_next()
 * would return a frame (or an error), else at least 1.  Before the length
 * is known this counts the missing length bytes only.  A reader may use it
 * to reserve room; it never exceeds BK_FRAME_LEN_SIZE + max_size.
 */
size_t bk_frame_dec_missing(const bk_frame_dec *d, const bk_buf *in);

/*
 * The payload bytes of the current frame received so far (possibly all of
 * them), without its length prefix.  Meant for the error path: after
 * -BK_ETOOBIG, bk_frame_peek_header() on these bytes may still find the
 * correlation id.  *n is 0 when not even the length is complete.
 */
void bk_frame_dec_partial(const bk_frame_dec *d, const bk_buf *in,
                          const uint8_t **p, size_t *n);

/* Removes the frames already returned from the front of `in`; invalidates
 * every payload pointer handed out.  Keeps the sticky error. */
void bk_frame_dec_compact(bk_frame_dec *d, bk_buf *in);

/* ----------------------------- writing ----------------------------- */

/*
 * Appends one frame (length + packed message) to `out`.  0, or
 * -BK_EINVAL for a message that packs to 0 bytes (the wire forbids empty
 * frames; a Request or Response always has a header), -BK_ETOOBIG above
 * BK_FRAME_WIRE_MAX, -BK_ENOMEM.  On failure `out` keeps its old contents
 * (a previous out->oom stays set).
 */
int bk_frame_encode(bk_buf *out, const ProtobufCMessage *msg);
int bk_frame_encode_request(bk_buf *out, const Brook__Request *req);
int bk_frame_encode_response(bk_buf *out, const Brook__Response *resp);

/* --------------------------- payload decode --------------------------- */

/*
 * Unpacks a frame payload.  0 and *out set (caller frees it with
 * brook__request__free_unpacked(*out, NULL), resp. the response variant);
 * or -BK_EINVAL, *out = NULL, when the bytes are not a valid message or
 * carry no header.  A body case the header's api_key does not match is not
 * checked here: body fields are numbered BK_BODY_FIELD(api_key)
 * (proto/protocol.h), so the dispatcher compares body_case with it.
 * (protobuf-c cannot tell an allocation failure from bad input; both give
 * -BK_EINVAL.)
 */
int bk_frame_decode_request(const uint8_t *p, size_t n, Brook__Request **out);
int bk_frame_decode_response(const uint8_t *p, size_t n, Brook__Response **out);

/* The header fields needed to answer a request that cannot be decoded. */
typedef struct bk_frame_hdr {
    int32_t api_key;
    int32_t api_version;
    int32_t correlation_id;
} bk_frame_hdr;

/*
 * Recovers the RequestHeader of a Request payload that is truncated or whose
 * body is garbage, without allocating: walks the top-level protobuf fields from
 * the start and takes the last complete `header` (field 1) met before the
 * first malformed or truncated field (a repeated header replaces the
 * earlier one, as protobuf-c's decoder does).  0 and *out filled (fields
 * missing from the header are 0, as in proto3), or -BK_EINVAL when no
 * complete, well-formed header precedes the damage.  Works because protoc-c and
 * other encoders write fields in number order, so the header (field 1) comes
 * before the body.  For Request payloads only (a Response header numbers its
 * fields differently).
 */
int bk_frame_peek_header(const uint8_t *p, size_t n, bk_frame_hdr *out);

#endif
