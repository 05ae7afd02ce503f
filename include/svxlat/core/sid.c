// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../sid.h"

static const char *const svx_sid_errors[SVX_SID_E__COUNT] = {
	[SVX_SID_OK] = "ok",
	[SVX_SID_E_EMPTY] = "no hex digits in service ID",
	[SVX_SID_E_CHAR] = "invalid character in service ID (hex digits only)",
	[SVX_SID_E_TOO_LONG] = "service ID longer than 64 hex digits",
	[SVX_SID_E_PREFIX] = "prefix length must be a decimal number 0..256",
	[SVX_SID_E_PREFIX_NOT_ALLOWED] = "a prefix length is not allowed here",
};

const char *svx_sid_strerror(enum svx_sid_err err)
{
	if ((unsigned int)err >= SVX_SID_E__COUNT)
		return "unknown service ID error";
	return svx_sid_errors[err];
}

static int svx_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum svx_sid_err svx_parse_bits(const char *s, size_t len, u16 *bits)
{
	u32 v = 0;
	size_t i;

	if (len == 0 || len > 3)
		return SVX_SID_E_PREFIX;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SVX_SID_E_PREFIX;
		v = v * 10 + (u32)(s[i] - '0');
	}
	if (v > SVX_SID_BITS)
		return SVX_SID_E_PREFIX;
	*bits = (u16)v;
	return SVX_SID_OK;
}

enum svx_sid_err svx_sid_parse(const char *text, size_t len, struct svx_sid *id,
			       u16 *prefix_bits)
{
	size_t hex_len = len, i;
	enum svx_sid_err err;
	u16 bits = SVX_SID_BITS;

	memset(id, 0, sizeof(*id));
	for (i = 0; i < len; i++) {
		if (text[i] == '/') {
			if (!prefix_bits)
				return SVX_SID_E_PREFIX_NOT_ALLOWED;
			err = svx_parse_bits(text + i + 1, len - i - 1, &bits);
			if (err)
				return err;
			hex_len = i;
			break;
		}
	}
	if (hex_len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		text += 2;
		hex_len -= 2;
	}
	if (hex_len == 0)
		return SVX_SID_E_EMPTY;
	if (hex_len > SVX_SID_TEXT_LEN)
		return SVX_SID_E_TOO_LONG;
	for (i = 0; i < hex_len; i++) {
		int v = svx_hex_value(text[i]);

		if (v < 0) {
			memset(id, 0, sizeof(*id));
			return SVX_SID_E_CHAR;
		}
		/* Even positions fill the high nibble: an odd tail stays high. */
		id->b[i / 2] |= (u8)(i % 2 ? v : v << 4);
	}
	if (prefix_bits)
		*prefix_bits = bits;
	return SVX_SID_OK;
}

void svx_sid_format(const struct svx_sid *id, char out[SVX_SID_TEXT_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < SVX_SID_LEN; i++) {
		out[2 * i] = digits[id->b[i] >> 4];
		out[2 * i + 1] = digits[id->b[i] & 0xf];
	}
	out[SVX_SID_TEXT_LEN] = '\0';
}

bool svx_sid_prefix_match(const struct svx_sid *id, const struct svx_sid *prefix,
			  unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;
	u8 mask;

	if (bits > SVX_SID_BITS)
		bits = SVX_SID_BITS, whole = SVX_SID_LEN, rest = 0;
	if (memcmp(id->b, prefix->b, whole) != 0)
		return false;
	if (!rest)
		return true;
	mask = (u8)(0xff << (8 - rest));
	return ((id->b[whole] ^ prefix->b[whole]) & mask) == 0;
}

unsigned int svx_sid_common_bits(const struct svx_sid *a, const struct svx_sid *b)
{
	unsigned int i, bits;
	u8 diff;

	for (i = 0; i < SVX_SID_LEN; i++) {
		diff = a->b[i] ^ b->b[i];
		if (!diff)
			continue;
		bits = i * 8;
		while (!(diff & 0x80)) {
			diff = (u8)(diff << 1);
			bits++;
		}
		return bits;
	}
	return SVX_SID_BITS;
}

void svx_sid_mask(struct svx_sid *id, unsigned int bits)
{
	unsigned int i;

	if (bits >= SVX_SID_BITS)
		return;
	i = bits / 8;
	if (bits % 8)
		id->b[i++] &= (u8)(0xff << (8 - bits % 8));
	for (; i < SVX_SID_LEN; i++)
		id->b[i] = 0;
}
