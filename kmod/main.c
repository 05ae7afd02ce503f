// SPDX-License-Identifier: GPL-2.0
/*
 * svxlat.ko: the kernel engine of svxlat (docs/kernel-module.md).
 */
#include <linux/module.h>
#include <linux/kernel.h>

#include "svxlat_kmod.h"

static int __init svx_init(void)
{
	int err;

	err = svx_offload_init();
	if (err)
		return err;
	pr_info("svxlat: loaded\n");
	return 0;
}

static void __exit svx_exit(void)
{
	svx_offload_exit();
}

module_init(svx_init);
module_exit(svx_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("svxlat: Serval translator kernel engine");
