// SPDX-License-Identifier: GPL-2.0
/*
 * svxlat.ko: the kernel engine of svxlat (docs/kernel-module.md). The
 * translation itself is the shared core in include/svxlat/; this module is
 * the glue: netfilter hooks, flow table, generic netlink, offload.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>

#include <svxlat/nl.h>

#include "svxlat_kmod.h"

/* Upper bound on any namespace's max-flows (memory guard for the host). */
unsigned int svx_flow_cap = 1u << 20;

static int svx_flow_cap_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err)
		return err;
	if (v < 1 || v > SVX_NL_MAX_FLOWS)
		return -ERANGE;
	return param_set_uint(val, kp);
}

static const struct kernel_param_ops svx_flow_cap_ops = {
	.set = svx_flow_cap_set,
	.get = param_get_uint,
};

module_param_cb(flow_cap, &svx_flow_cap_ops, &svx_flow_cap, 0644);
MODULE_PARM_DESC(flow_cap, "largest max-flows a namespace may configure (1..4194304)");

/*
 * Translated segments keep their payload in place and leave segmentation and
 * checksums to GSO/offloads (header plans). Off: every translated packet is
 * copied, segmented and checksummed in software, as the NFQUEUE engine does.
 */
bool svx_header_plans = true;
module_param_named(header_plans, svx_header_plans, bool, 0644);
MODULE_PARM_DESC(header_plans, "rewrite translated segments in place, GSO for the rest (default on)");

static int __init svx_init(void)
{
	int err;

	err = svx_flows_cache_init();
	if (err)
		return err;
	err = svx_offload_init();
	if (err)
		goto cache;
	err = svx_net_init_module();
	if (err)
		goto offload;
	err = svx_netlink_init();
	if (err)
		goto net;
	pr_info("svxlat: loaded (netlink family %s v%d)\n", SVX_NL_FAMILY, SVX_NL_VERSION);
	return 0;
net:
	svx_net_exit_module();
offload:
	svx_offload_exit();
cache:
	svx_flows_cache_exit();
	return err;
}

/*
 * No new requests first, then every namespace's hooks and work (pernet
 * exit), then the offload; finally wait for the flows' RCU callbacks.
 */
static void __exit svx_exit(void)
{
	svx_netlink_exit();
	svx_net_exit_module();
	svx_offload_exit();
	svx_flows_cache_exit();
	pr_info("svxlat: unloaded\n");
}

module_init(svx_init);
module_exit(svx_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("svxlat: Serval translator kernel engine");
