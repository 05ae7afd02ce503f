/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * 256-bit Serval service IDs (docs/serval-protocol.md section 10): opaque
 * byte strings matched bitwise in wire order, prefix bit k = bit (7 - k % 8)
 * of byte k / 8.
 *
 * Text form: output is 64 lowercase hex digits, byte 0 first. Input is the
 * reference's form: an optional "0x", then 1..64 hex digits filling bytes from
 * byte 0, an odd last digit being the high nibble of its byte ("0000005" is
 * 00 00 00 50), unreached bytes zero; optionally "/BITS" (0..256) for a
 * prefix. Unlike the reference, an invalid character is an error.
 */
#ifndef SVXLAT_SID_H
#define SVXLAT_SID_H

#include "types.h"
#include "wire.h"

SVX_EXTERN_C_BEGIN

#define SVX_SID_BITS 256
#define SVX_SID_TEXT_LEN 64

struct svx_sid {
	u8 b[SVX_SID_LEN];
};

enum svx_sid_err {
	SVX_SID_OK = 0,
	SVX_SID_E_EMPTY,	/* no hex digits */
	SVX_SID_E_CHAR,		/* a character that is not a hex digit */
	SVX_SID_E_TOO_LONG,	/* more than 64 hex digits */
	SVX_SID_E_PREFIX,	/* "/BITS" missing digits, not decimal or above 256 */
	SVX_SID_E_PREFIX_NOT_ALLOWED, /* "/BITS" where a full ID is required */
	SVX_SID_E__COUNT,
};

const char *svx_sid_strerror(enum svx_sid_err err);

/*
 * Parses text[0..len) (not NUL-terminated). prefix_bits receives BITS, or 256
 * when there is none; pass NULL to refuse a "/BITS" suffix. On error *id is
 * all zero.
 */
enum svx_sid_err svx_sid_parse(const char *text, size_t len, struct svx_sid *id,
			       u16 *prefix_bits);

/* Writes 64 hex digits and a NUL into out[65]. */
void svx_sid_format(const struct svx_sid *id, char out[SVX_SID_TEXT_LEN + 1]);

/* memcmp order on the wire bytes. */
static inline int svx_sid_cmp(const struct svx_sid *a, const struct svx_sid *b)
{
	return memcmp(a->b, b->b, SVX_SID_LEN);
}

/* Bit k of the ID, k = 0 being the MSB of byte 0. */
static inline unsigned int svx_sid_bit(const struct svx_sid *id, unsigned int k)
{
	return (id->b[k >> 3] >> (7 - (k & 7))) & 1;
}

/* True when the first bits bits of id equal those of prefix (bits <= 256). */
bool svx_sid_prefix_match(const struct svx_sid *id, const struct svx_sid *prefix,
			  unsigned int bits);

/* Number of leading bits a and b share (0..256). */
unsigned int svx_sid_common_bits(const struct svx_sid *a, const struct svx_sid *b);

/* Clears every bit at or after position bits, so a prefix has one spelling. */
void svx_sid_mask(struct svx_sid *id, unsigned int bits);

SVX_EXTERN_C_END

#endif /* SVXLAT_SID_H */
