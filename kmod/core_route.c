// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The shared core's service-router unit, compiled into the kernel module. */
#include "../include/svxlat/core/route.c"
