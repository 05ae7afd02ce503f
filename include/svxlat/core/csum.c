// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Internet checksum for the shared core. The bulk loop adds 32-bit native
 * words into a 64-bit accumulator and converts to network order once at the
 * end: the one's-complement sum is independent of byte order (RFC 1071 2.B).
 */
#include "../csum.h"

static inline u16 svx_swab16(u16 v)
{
	return (u16)(v << 8 | v >> 8);
}

u32 svx_csum_partial(const void *buf, size_t len, u32 sum)
{
	const u8 *p = (const u8 *)buf;
	u64 acc = 0;
	u32 w32;
	u16 w16;
	u16 folded;

	while (len >= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A trailing odd byte is the high byte of a zero-padded word. */
		u8 pad[2] = { p[0], 0 };

		memcpy(&w16, pad, 2);
		acc += w16;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	folded = (u16)acc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = svx_swab16(folded);
#endif
	return svx_csum_add(sum, folded);
}

u32 svx_csum_pseudo_ipv4(const u8 saddr[4], const u8 daddr[4], u8 proto, u16 l4_len)
{
	u32 sum = 0;

	sum += svx_get_be16(saddr);
	sum += svx_get_be16(saddr + 2);
	sum += svx_get_be16(daddr);
	sum += svx_get_be16(daddr + 2);
	sum += proto;
	sum += l4_len;
	return sum;
}

u16 svx_csum_l4_ipv4(const u8 saddr[4], const u8 daddr[4], u8 proto, const u8 *seg, size_t len)
{
	u32 sum = svx_csum_pseudo_ipv4(saddr, daddr, proto, (u16)len);

	return svx_csum_fold(svx_csum_partial(seg, len, sum));
}

void svx_csum_update_bytes(u8 check_field[2], const u8 *old_bytes, const u8 *field, size_t len)
{
	u32 sum = (u16)~svx_get_be16(check_field);
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		sum += (u16)~svx_get_be16(old_bytes + i);
		sum += svx_get_be16(field + i);
	}
	if (len & 1) {
		sum += (u16)~(u16)(old_bytes[len - 1] << 8);
		sum += (u16)(field[len - 1] << 8);
	}
	svx_put_be16(check_field, svx_csum_fold(sum));
}
