/*
 * compress.c -- the RecordBatch compression codecs (see compress.h).
 *
 * Output formats follow what Kafka's Java producer writes, so that a batch
 * built here reads back anywhere Kafka's format is understood:
 *  - gzip: a single RFC 1952 member as java.util.zip.GZIPOutputStream
 *    writes it (mtime 0, no name, OS byte 255 "unknown" as Java >= 16
 *    writes, deflate level 6 = Kafka's default compression.gzip.level).
 *  - lz4: one LZ4 frame (KIP-57: correct header checksum), 64 KiB
 *    independent blocks, no block or content checksum -- the frame
 *    descriptor Kafka's KafkaLZ4BlockOutputStream writes.
 *  - zstd: one zstd frame at level 3 (Kafka's default compression.zstd.level).
 *
 * Decoders accept anything their format allows (several gzip members, lz4
 * or zstd frames back to back, linked lz4 blocks, checksums present or
 * not) but nothing after the last frame.  All of them stream into the
 * output buffer and stop as soon as the output would pass max_out, so the
 * memory a hostile input can make us use is bounded by max_out plus the
 * codec's own (bounded) window.  Contexts are created per call: simple,
 * thread-safe, and small next to a batch's worth of (de)compression.
 */
#include "common/compress.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <lz4frame.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/err.h"

#define GZIP_LEVEL 6
#define ZSTD_LEVEL 3
/* Never ask a decoder for less than this much room at once. */
#define OUT_CHUNK (64 * 1024)
/* zstd window bounds for decoding: a frame may ask for a window up to
 * 2^ZSTD_WLOG_MAX, or 2^ZSTD_WLOG_FLOOR at least whatever max_out is
 * (streaming compressors that do not know the size announce big windows
 * even for small data). */
#define ZSTD_WLOG_FLOOR 23
#define ZSTD_WLOG_MAX   27

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4",
                                          "zstd"};

const char *bk_codec_name(int codec)
{
    if (codec < 0 || codec > BK_CODEC_ZSTD)
        return "unknown";
    return codec_names[codec];
}

static bool codec_supported(int codec)
{
    return codec == BK_CODEC_NONE || codec == BK_CODEC_GZIP ||
           codec == BK_CODEC_LZ4 || codec == BK_CODEC_ZSTD;
}

int bk_codec_parse(const char *name, bk_codec *out)
{
    for (int c = 0; c <= BK_CODEC_ZSTD; c++) {
        if (strcmp(name, codec_names[c]) == 0) {
            if (!codec_supported(c))
                return -BK_EUNSUPPORTED;
            *out = (bk_codec)c;
            return 0;
        }
    }
    return -BK_EUNSUPPORTED;
}

/* ------------------------------ compress ------------------------------ */

static int gzip_compress(const uint8_t *in, size_t n, bk_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip wrapper instead of zlib's */
    if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -BK_ENOMEM;
    gz_header gh;
    memset(&gh, 0, sizeof gh);
    gh.os = 255; /* "unknown", as Java's GZIPOutputStream writes */
    int rc = 0;
    if (deflateSetHeader(&zs, &gh) != Z_OK) {
        rc = -BK_ENOMEM;
        goto out;
    }
    const uint8_t *ip = in;
    size_t in_left = n;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            uInt take = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            zs.next_in = (Bytef *)(uintptr_t)ip;
            zs.avail_in = take;
            ip += take;
            in_left -= take;
        }
        /* deflateBound of what is left: one pass in the common case */
        size_t want = deflateBound(&zs, zs.avail_in) + 64;
        if (bk_buf_reserve(out, want) != 0) {
            rc = -BK_ENOMEM;
            goto out;
        }
        size_t room = out->cap - out->len;
        zs.next_out = out->data + out->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        int zr = deflate(&zs, in_left ? Z_NO_FLUSH : Z_FINISH);
        out->len += before - zs.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = -BK_ENOMEM;
            goto out;
        }
    }
out:
    deflateEnd(&zs);
    return rc;
}

static int lz4_compress(const uint8_t *in, size_t n, bk_buf *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.frameInfo.frameType = LZ4F_frame;
    size_t bound = LZ4F_compressFrameBound(n, &prefs);
    if (bk_buf_reserve(out, bound) != 0)
        return -BK_ENOMEM;
    size_t r = LZ4F_compressFrame(out->data + out->len, bound, in, n, &prefs);
    if (LZ4F_isError(r))
        return -BK_ENOMEM; /* only an allocation failure is possible */
    out->len += r;
    return 0;
}

static int zstd_compress(const uint8_t *in, size_t n, bk_buf *out)
{
    size_t bound = ZSTD_compressBound(n);
    if (ZSTD_isError(bound) || bk_buf_reserve(out, bound) != 0)
        return -BK_ENOMEM;
    size_t r = ZSTD_compress(out->data + out->len, bound, in, n, ZSTD_LEVEL);
    if (ZSTD_isError(r))
        return -BK_ENOMEM;
    out->len += r;
    return 0;
}

int bk_compress(int codec, const uint8_t *in, size_t n, bk_buf *out)
{
    if (!codec_supported(codec))
        return -BK_EUNSUPPORTED;
    if (!bk_buf_ok(out))
        return -BK_ENOMEM;
    size_t start = out->len;
    int rc;
    switch (codec) {
    case BK_CODEC_NONE:
        rc = bk_buf_reserve(out, n);
        if (rc == 0 && n > 0) {
            memcpy(out->data + out->len, in, n);
            out->len += n;
        }
        break;
    case BK_CODEC_GZIP:
        rc = gzip_compress(in, n, out);
        break;
    case BK_CODEC_LZ4:
        rc = lz4_compress(in, n, out);
        break;
    default:
        rc = zstd_compress(in, n, out);
        break;
    }
    if (rc != 0)
        out->len = start;
    return rc;
}

/* ----------------------------- decompress ----------------------------- */

/* Output window for a decoder: up to `limit` bytes in total may be
 * produced (limit = max_out + 1, so that producing the limit proves the
 * input expands past max_out).  Grows out geometrically, never beyond what
 * the limit allows. */
typedef struct out_win {
    bk_buf *out;
    size_t produced;
    size_t limit;
} out_win;

/* Makes room and returns how many bytes the decoder may write at
 * out->data + out->len (>= 1), or 0 on allocation failure. */
static size_t win_room(out_win *w)
{
    assert(w->produced < w->limit);
    size_t allowed = w->limit - w->produced;
    if (w->out->cap == w->out->len) {
        size_t want = w->produced < OUT_CHUNK ? OUT_CHUNK : w->produced;
        if (want > allowed)
            want = allowed;
        if (bk_buf_reserve(w->out, want) != 0)
            return 0;
    }
    size_t room = w->out->cap - w->out->len;
    return room < allowed ? room : allowed;
}

static int gzip_decompress(const uint8_t *in, size_t n, out_win *w)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: gzip members only (what Kafka writes) */
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -BK_ENOMEM;
    const uint8_t *ip = in;
    size_t in_left = n;
    int rc = -BK_ECORRUPT;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            uInt take = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            zs.next_in = (Bytef *)(uintptr_t)ip;
            zs.avail_in = take;
            ip += take;
            in_left -= take;
        }
        size_t room = win_room(w);
        if (room == 0) {
            rc = -BK_ENOMEM;
            break;
        }
        zs.next_out = w->out->data + w->out->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before_out = zs.avail_out, before_in = zs.avail_in;
        int zr = inflate(&zs, Z_NO_FLUSH);
        size_t got = before_out - zs.avail_out;
        w->out->len += got;
        w->produced += got;
        if (w->produced >= w->limit) {
            rc = -BK_ETOOBIG;
            break;
        }
        if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0 && in_left == 0) {
                rc = 0;
                break;
            }
            /* another gzip member follows (RFC 1952 2.2) */
            if (inflateReset(&zs) != Z_OK)
                break;
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            rc = -BK_ENOMEM;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            break; /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
        if (got == 0 && before_in == zs.avail_in && zs.avail_in == 0 &&
            in_left == 0)
            break; /* input ended inside a member: truncated */
    }
    inflateEnd(&zs);
    return rc;
}

static int lz4_decompress(const uint8_t *in, size_t n, out_win *w)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return -BK_ENOMEM;
    /* stableDst = 0: the output buffer may move (realloc) between calls,
     * so lz4 keeps the history of linked blocks in its own memory */
    LZ4F_decompressOptions_t opt;
    memset(&opt, 0, sizeof opt);
    size_t pos = 0;
    int frames = 0;
    int rc = -BK_ECORRUPT;
    bool in_frame = false;
    for (;;) {
        if (pos == n && !in_frame) {
            rc = frames > 0 ? 0 : -BK_ECORRUPT;
            break;
        }
        size_t room = win_room(w);
        if (room == 0) {
            rc = -BK_ENOMEM;
            break;
        }
        size_t src_size = n - pos, dst_size = room;
        size_t r = LZ4F_decompress(dctx, w->out->data + w->out->len, &dst_size,
                                   in + pos, &src_size, &opt);
        if (LZ4F_isError(r))
            break;
        pos += src_size;
        w->out->len += dst_size;
        w->produced += dst_size;
        if (w->produced >= w->limit) {
            rc = -BK_ETOOBIG;
            break;
        }
        if (r == 0) {
            /* frame complete and flushed; the context resets itself */
            frames++;
            in_frame = false;
            continue;
        }
        in_frame = true;
        if (src_size == 0 && dst_size == 0)
            break; /* no progress with room to spare: input ended early */
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static unsigned zstd_window_log(size_t max_out)
{
    unsigned lg = 0;
    while (lg < ZSTD_WLOG_MAX && ((size_t)1 << lg) < max_out)
        lg++;
    return lg < ZSTD_WLOG_FLOOR ? ZSTD_WLOG_FLOOR : lg;
}

static int zstd_decompress(const uint8_t *in, size_t n, size_t max_out,
                           out_win *w)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return -BK_ENOMEM;
    int rc = -BK_ECORRUPT;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax,
                                            (int)zstd_window_log(max_out)))) {
        rc = -BK_ENOMEM;
        goto out;
    }
    ZSTD_inBuffer ib = {in, n, 0};
    int frames = 0;
    bool in_frame = false;
    for (;;) {
        if (ib.pos == ib.size && !in_frame) {
            rc = frames > 0 ? 0 : -BK_ECORRUPT;
            break;
        }
        size_t room = win_room(w);
        if (room == 0) {
            rc = -BK_ENOMEM;
            break;
        }
        ZSTD_outBuffer ob = {w->out->data + w->out->len, room, 0};
        size_t in_before = ib.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            if (e == ZSTD_error_memory_allocation)
                rc = -BK_ENOMEM;
            else if (e == ZSTD_error_frameParameter_windowTooLarge)
                rc = -BK_ETOOBIG;
            break;
        }
        w->out->len += ob.pos;
        w->produced += ob.pos;
        if (w->produced >= w->limit) {
            rc = -BK_ETOOBIG;
            break;
        }
        if (r == 0) {
            frames++;
            in_frame = false;
            continue;
        }
        in_frame = true;
        /* input all consumed, output not full, frame not done: truncated */
        if (ib.pos == ib.size && ob.pos < ob.size)
            break;
        if (ib.pos == in_before && ob.pos == 0)
            break; /* no progress: never loop forever */
    }
out:
    ZSTD_freeDCtx(d);
    return rc;
}

int bk_decompress(int codec, const uint8_t *in, size_t n, size_t max_out,
                  bk_buf *out)
{
    if (!codec_supported(codec))
        return -BK_EUNSUPPORTED;
    if (!bk_buf_ok(out))
        return -BK_ENOMEM;
    if (codec == BK_CODEC_NONE) {
        if (n > max_out)
            return -BK_ETOOBIG;
        if (n == 0)
            return 0;
        if (bk_buf_reserve(out, n) != 0)
            return -BK_ENOMEM;
        memcpy(out->data + out->len, in, n);
        out->len += n;
        return 0;
    }
    size_t start = out->len;
    out_win w = {out, 0, max_out == SIZE_MAX ? SIZE_MAX : max_out + 1};
    int rc;
    switch (codec) {
    case BK_CODEC_GZIP:
        rc = gzip_decompress(in, n, &w);
        break;
    case BK_CODEC_LZ4:
        rc = lz4_decompress(in, n, &w);
        break;
    default:
        rc = zstd_decompress(in, n, max_out, &w);
        break;
    }
    if (rc != 0)
        out->len = start; /* no partial output */
    return rc;
}
