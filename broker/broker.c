/*
 * broker.c -- glue between the cluster picture, the partitions and the
 * waiting fetches (see broker.h).
 */
#include "broker/broker.h"

#include "broker/gcoord.h"
#include "broker/repl.h"

#include "common/logging.h"

#define MOD "broker"

void bk_broker_set_md(bk_broker *b, bk_md *md)
{
    if (b->stopping) {
        bk_md_free(md);
        return;
    }
    /* Both the ZooKeeper picture and controller requests feed the
     * partition states; per partition the newer one wins. */
    if (b->pending && bk_md_merge_pending(md, b->pending) < 0)
        BK_WARN(MOD, "out of memory merging controller states");
    bk_md *old = b->md;
    b->md = md;
    int failed = bk_parts_apply(b->parts, md);
    if (failed > 0)
        BK_ERROR(MOD, "%d partition logs could not be created", failed);
    BK_DEBUG(MOD, "cluster picture: %zu brokers, %zu topics, controller %d",
             md->nbrokers, md->ntopics, md->controller_id);
    bk_md_free(old);
}

void bk_broker_part_changed(void *arg, bk_part *p, bool removing)
{
    bk_broker *b = arg;
    if (b->repl)
        bk_repl_part_changed(b->repl, p, removing);
    /* A __consumer_offsets partition no longer led here: its groups go. */
    bk_gsvc_part_changed(b->gsvc, p, removing);
    /* A fetch waiting on a partition that moved or goes must be answered
     * now: re-running it reports the new state (NOT_LEADER...). */
    bk_fw_wake(b->fwq, p);
}
