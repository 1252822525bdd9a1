/* brookctl_configs.c -- placeholder (issue #6, being written). */
#include "coordinator/brookctl.h"

const char *const bk_ctl_configs_describe_help = "configs describe\n";
const char *const bk_ctl_configs_alter_help = "configs alter\n";

int bk_ctl_configs_check(const bk_ctl_args *a, bool alter)
{
    (void)a;
    (void)alter;
    return -1;
}

int bk_ctl_configs_describe(bk_zk *zk, const bk_ctl_args *a)
{
    (void)zk;
    (void)a;
    return bk_ctl_fail("configs describe: not written yet");
}

int bk_ctl_configs_alter(bk_zk *zk, const bk_ctl_args *a)
{
    (void)zk;
    (void)a;
    return bk_ctl_fail("configs alter: not written yet");
}
