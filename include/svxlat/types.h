/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Portability layer for the shared core: the same headers and .c files are
 * compiled by Kbuild into the kernel module and by CMake into user space (C and
 * C++). Only fixed-width types, memcpy/memset/memcmp/memmove and explicit
 * big-endian loads and stores are used; nothing here allocates or sleeps.
 */
#ifndef SVXLAT_TYPES_H
#define SVXLAT_TYPES_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/build_bug.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#endif

#ifdef __cplusplus
#define SVX_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define SVX_EXTERN_C_BEGIN extern "C" {
#define SVX_EXTERN_C_END }
#else
#define SVX_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define SVX_EXTERN_C_BEGIN
#define SVX_EXTERN_C_END
#endif

#define SVX_PACKED __attribute__((packed))

/*
 * Unaligned big-endian access. Packets reach the core at any alignment (pcap
 * frames put the IP header at offset 14), so fields are never dereferenced
 * through wider pointers.
 */
static inline u16 svx_get_be16(const u8 *p)
{
	return (u16)((u16)p[0] << 8 | p[1]);
}

static inline u32 svx_get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static inline void svx_put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static inline void svx_put_be32(u8 *p, u32 v)
{
	p[0] = (u8)(v >> 24);
	p[1] = (u8)(v >> 16);
	p[2] = (u8)(v >> 8);
	p[3] = (u8)v;
}

#endif /* SVXLAT_TYPES_H */
