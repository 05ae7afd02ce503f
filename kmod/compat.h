/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version differences, confined here (docs/kernel-module.md lists
 * the series svxlat.ko is built against).
 */
#ifndef SVXLAT_COMPAT_H
#define SVXLAT_COMPAT_H

#include <linux/version.h>

#endif /* SVXLAT_COMPAT_H */
