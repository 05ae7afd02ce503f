// SPDX-License-Identifier: GPL-2.0
/*
 * Build check for the shared translation core: links every core unit into a
 * module with the kernel's own compiler flags and exercises it once at load
 * time (parse, build, checksum), so `insmod` in the VM also proves it runs.
 * It also runs the shims of compat.h, on whichever kernel it is built for.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <svxlat/csum.h>
#include <svxlat/err.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>
#include <svxlat/sid.h>

#include "compat.h"

/* Protocol doc section 17, V9: the minimal SAL header. */
static const u8 svx_check_v9[SVX_SAL_BASE_LEN] = {
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x03, 0x06, 0xfc, 0xf6,
};

/* compat.h: attributes of one type, at top level and inside a nest. */
static int __init svx_compat_check(void)
{
	static const struct {
		struct nlattr nest;
		struct {
			struct nlattr hdr;
			u32 v;
		} a[3];
	} msg = {
		.nest = { .nla_len = sizeof(msg), .nla_type = 3 },
		.a = {
			{ { .nla_len = 8, .nla_type = 1 }, 10 },
			{ { .nla_len = 8, .nla_type = 2 }, 20 },
			{ { .nla_len = 8, .nla_type = 1 }, 30 },
		},
	};
	const struct nlattr *pos;
	u32 top = 0, nested = 0;
	int rem;

	nla_for_each_attr_type(pos, 1, &msg.a[0].hdr, sizeof(msg.a), rem)
		top += nla_get_u32(pos);
	nla_for_each_nested_type(pos, 1, &msg.nest, rem)
		nested += nla_get_u32(pos);
	if (top != 40 || nested != 40) {
		pr_err("svxlat_corecheck: compat.h attribute iteration: %u %u\n", top, nested);
		return -EINVAL;
	}
	return 0;
}

static int __init svx_corecheck_init(void)
{
	struct svx_sal_view view;
	struct svx_sal_spec spec;
	u8 out[SVX_SAL_BASE_LEN];
	enum svx_err err;
	int len;

	err = svx_sal_parse(svx_check_v9, sizeof(svx_check_v9), 0, &view);
	if (err) {
		pr_err("svxlat_corecheck: V9 does not parse: %s\n", svx_err_name(err));
		return -EINVAL;
	}
	err = svx_sal_decode(svx_check_v9, &view, &spec);
	len = err ? -1 : svx_sal_build(out, sizeof(out), &spec);
	if (len != SVX_SAL_BASE_LEN || memcmp(out, svx_check_v9, sizeof(out))) {
		pr_err("svxlat_corecheck: V9 does not re-encode\n");
		return -EINVAL;
	}
	if (svx_compat_check())
		return -EINVAL;
	pr_info("svxlat_corecheck: shared core OK\n");
	return 0;
}

static void __exit svx_corecheck_exit(void)
{
}

module_init(svx_corecheck_init);
module_exit(svx_corecheck_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("svxlat: kernel build check of the shared SAL core");
