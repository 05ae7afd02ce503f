// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The whole shared core as one unit for svxlat.ko: the packet path crosses
 * the core's files several times per packet (parse, flow, SAL, checksum),
 * and only within one unit can the compiler inline those calls. Each file
 * is still built on its own, with the kernel's flags, in
 * svxlat_corecheck.ko (the core_*.c units).
 */
#include "../include/svxlat/core/csum.c"
#include "../include/svxlat/core/err.c"
#include "../include/svxlat/core/pkt.c"
#include "../include/svxlat/core/tcp.c"
#include "../include/svxlat/core/sal.c"
#include "../include/svxlat/core/sid.c"
#include "../include/svxlat/core/reg.c"
#include "../include/svxlat/core/route.c"
#include "../include/svxlat/core/stats.c"
#include "../include/svxlat/core/flow.c"
#include "../include/svxlat/core/engine.c"
