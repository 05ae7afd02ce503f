/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Internet checksum (RFC 1071) and its incremental update (RFC 1624, eqn. 3).
 *
 * Sums are carried as u32 "partial sums" of 16-bit words in network order;
 * svx_csum_fold() turns one into the 16-bit value stored in a header (host
 * order, write it with svx_put_be16). Partial sums of separate buffers can be
 * added with svx_csum_add() as long as every buffer but the last has an even
 * length.
 */
#ifndef SVXLAT_CSUM_H
#define SVXLAT_CSUM_H

#include "types.h"

SVX_EXTERN_C_BEGIN

/* One's-complement sum of buf, added to sum. Never reads past len. */
u32 svx_csum_partial(const void *buf, size_t len, u32 sum);

/* Adds two partial sums with end-around carry. */
static inline u32 svx_csum_add(u32 a, u32 b)
{
	u32 s = a + b;

	return s + (s < a);
}

/* Folds a partial sum to 16 bits and complements it: the value to store. */
static inline u16 svx_csum_fold(u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* Checksum of a whole buffer, e.g. an IPv4 or SAL header with its check
 * field zeroed. Over a buffer that includes its stored checksum, a correct
 * one gives 0.
 */
static inline u16 svx_csum(const void *buf, size_t len)
{
	return svx_csum_fold(svx_csum_partial(buf, len, 0));
}

/* Partial sum of the IPv4 pseudo-header used by TCP and UDP. */
u32 svx_csum_pseudo_ipv4(const u8 saddr[4], const u8 daddr[4], u8 proto, u16 l4_len);

/* Full TCP/UDP checksum over seg[0..len) with the IPv4 pseudo-header; the
 * segment's own check field must be zero (or is verified when it is not:
 * then a correct checksum gives 0).
 */
u16 svx_csum_l4_ipv4(const u8 saddr[4], const u8 daddr[4], u8 proto, const u8 *seg, size_t len);

/* RFC 1624 incremental update: the stored checksum check after a 16-bit
 * field changed from old to new (all values host order).
 */
static inline u16 svx_csum_update16(u16 check, u16 old_val, u16 new_val)
{
	u32 sum = (u16)~check;

	sum += (u16)~old_val;
	sum += new_val;
	return svx_csum_fold(sum);
}

/* Same for a 32-bit field (two adjacent 16-bit words, e.g. an address). */
static inline u16 svx_csum_update32(u16 check, u32 old_val, u32 new_val)
{
	u32 sum = (u16)~check;

	sum += (u16)~(old_val >> 16);
	sum += (u16)~(old_val & 0xffff);
	sum += new_val >> 16;
	sum += new_val & 0xffff;
	return svx_csum_fold(sum);
}

/* Updates the stored checksum of a header in place after len bytes at an
 * even offset changed from old_bytes to the bytes now at field.
 */
void svx_csum_update_bytes(u8 check_field[2], const u8 *old_bytes, const u8 *field, size_t len);

SVX_EXTERN_C_END

#endif /* SVXLAT_CSUM_H */
