/* brookctl_cluster.c -- placeholder (issue #6, being written). */
#include "coordinator/brookctl.h"

const char *const bk_ctl_cluster_status_help = "cluster status\n";

int bk_ctl_cluster_status(bk_zk *zk, const bk_ctl_args *a)
{
    (void)zk;
    (void)a;
    return bk_ctl_fail("cluster status: not written yet");
}
