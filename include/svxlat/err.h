/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Why the core refused a packet or a build request. Every value names a drop
 * reason: the engines keep one counter per value, and `svxlat counters`
 * prints svx_err_name() and svx_err_desc() beside it.
 */
#ifndef SVXLAT_ERR_H
#define SVXLAT_ERR_H

#include "types.h"

SVX_EXTERN_C_BEGIN

enum svx_err {
	SVX_OK = 0,
	/* IPv4 */
	SVX_E_IP_TRUNCATED,
	SVX_E_IP_VERSION,
	SVX_E_IP_HDR_LEN,
	SVX_E_IP_TOT_LEN,
	SVX_E_IP_CSUM,
	SVX_E_IP_FRAGMENT,
	SVX_E_NOT_SAL,
	/* SAL */
	SVX_E_SAL_TRUNCATED,
	SVX_E_SAL_SHL,
	SVX_E_EXT_TYPE,
	SVX_E_EXT_LEN,
	SVX_E_EXT_OVERRUN,
	SVX_E_EXT_COUNT,
	SVX_E_EXT_DUP,
	SVX_E_SAL_CSUM,
	/* transport after the SAL */
	SVX_E_L4_PROTO,
	SVX_E_L4_TRUNCATED,
	SVX_E_L4_HDR_LEN,
	SVX_E_L4_CSUM,
	/* building and rewriting */
	SVX_E_NOSPACE,
	SVX_E_INVAL,
	SVX_E_SOURCE_LOOP,
	/* remote registration (section 14.4) */
	SVX_E_REG_DATAGRAM,
	SVX_E_REG_LEN,
	SVX_E_REG_TYPE,
	SVX_E_REG_FLAGS,
	/* flow state machine */
	SVX_E_NO_FLOW,
	SVX_E_STATE,
	SVX_E_VERNO,
	SVX_E_NONCE,
	SVX_E_NO_ROUTE,
	SVX_E_TTL,
	SVX_E_LINK_BROADCAST,
	SVX_E__COUNT,
};

const char *svx_err_name(enum svx_err err);
const char *svx_err_desc(enum svx_err err);

SVX_EXTERN_C_END

#endif /* SVXLAT_ERR_H */
