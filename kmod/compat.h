/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version differences, confined here (docs/kernel-module.md, "Kernel
 * versions and packaging", lists the series svxlat.ko is built against).
 * Every unit of svxlat.ko includes this file through svxlat_kmod.h; no other
 * file tests LINUX_VERSION_CODE.
 *
 * Supported: Linux 6.1 and later; built and loaded in a VM for Debian 12's
 * 6.1 (6.1.0-56-amd64, 6.1.192) and 6.12 (6.12.117+deb12-amd64).
 *
 * Identical in both series (checked against the Debian headers, so no shim):
 * generic netlink with genl_small_ops, resv_start_op and genl_info_net();
 * NLA_POLICY_MIN/MAX/EXACT_LEN; nf_hook_ops and nf_register_net_hooks();
 * struct net_offload (gso_segment, gro_receive, gro_complete) with
 * inet_add_offload(), skb_gro_header(), call_gro_receive(); rhashtable;
 * get_random_u32_below(), timer_delete_sync(), kfree_rcu_mightsleep() and
 * DEFINE_FREE() (backported to Debian's 6.1.192); ip_route_output_key(),
 * RT_TOS(), dst_output(); skb_scrub_packet(), skb_reset_redirect().
 *
 * Only in 6.12, not provided on 6.1 (do not use them): genl_split_ops,
 * genl_info_dump(), NL_SET_ERR_MSG_FMT(), GENL_SET_ERR_MSG_FMT(), NLA_UINT
 * with nla_get_uint()/nla_put_uint(), skb_gro_receive_network_offset();
 * prandom_u32_max() is gone from 6.12 (use get_random_u32_below()).
 *
 * Build flags: 6.12 compiles modules with -Wextra, -Wmissing-prototypes and
 * -Wmissing-declarations; kmod/Kbuild asks every kernel for the same, so a
 * unit that builds with -Werror against 6.1 also does against 6.12.
 */
#ifndef SVXLAT_COMPAT_H
#define SVXLAT_COMPAT_H

#include <linux/version.h>
#include <net/netlink.h>

/*
 * genl_family.resv_start_op (the family's strict-parsing contract in
 * netlink.c) and skb_gro_header() (offload.c) first appear in 6.1.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "svxlat.ko needs Linux 6.1 or later (genl_family.resv_start_op, skb_gro_header())"
#endif

/*
 * Iterating over the attributes of one type: in 6.12 (linux/netlink.h),
 * not in 6.1. Same definitions as 6.12's.
 */
#ifndef nla_for_each_attr_type
#define nla_for_each_attr_type(pos, type, head, len, rem) \
	nla_for_each_attr(pos, head, len, rem) \
		if (nla_type(pos) == type)
#endif

#ifndef nla_for_each_nested_type
#define nla_for_each_nested_type(pos, type, nla, rem) \
	nla_for_each_nested(pos, nla, rem) \
		if (nla_type(pos) == type)
#endif

#endif /* SVXLAT_COMPAT_H */
