/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces between the units of svxlat.ko (not shared with user
 * space; the wire and netlink definitions live in include/svxlat/).
 */
#ifndef SVXLAT_KMOD_H
#define SVXLAT_KMOD_H

/* offload.c: GSO/GRO for IP protocol 144 (SAL + TCP). */
int svx_offload_init(void);
void svx_offload_exit(void);

#endif /* SVXLAT_KMOD_H */
