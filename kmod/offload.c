// SPDX-License-Identifier: GPL-2.0
/*
 * GSO for IP protocol 144: a SAL header (shl * 4 bytes) between IPv4 and TCP.
 *
 * The SAL is to TCP what an IPv6 extension header is: it only has to be
 * skipped, copied unchanged into every segment and stepped over again. So
 * this file does what ipv6_gso_segment() does for extension headers and
 * leaves every TCP detail (sequence numbers, flags, pseudo-header checksum
 * seeds, CHECKSUM_PARTIAL) to TCP's own offload:
 *
 *   inet_gso_segment()    pulls the IPv4 header, calls us;
 *   svx_sal_gso_segment() checks the SAL header, pulls it, points the
 *                         transport header at TCP and calls TCP's offload;
 *   skb_segment()         copies everything in front of the payload (MAC,
 *                         IPv4, SAL, TCP) into each segment;
 *   inet_gso_segment()    fixes tot_len, id and the IPv4 checksum.
 *
 * Segments come back with skb->data at the MAC header and their transport
 * header on TCP (where csum_start is): nothing has to be pushed back, and
 * validate_xmit_skb() would move the transport header to csum_start anyway.
 *
 * Serval's TCP checksum (docs/serval-protocol.md, section 8) is the plain
 * IPv4 one: pseudo-header (saddr, daddr, 6, TCP length) over TCP header and
 * payload, SAL excluded. Once the SAL is pulled that is exactly what
 * tcp4_gso_segment() computes, so its checksum code is reused as it is.
 *
 * Which gso_type, and hardware TSO. A NIC cannot segment protocol 144: its
 * TSO engine (or its driver) expects TCP right after IPv4 and would either
 * drop the packet or send garbage. The kernel only calls a gso_segment
 * callback when netif_needs_gso() says the device cannot take the skb as it
 * is. SAL super-packets must therefore carry
 *
 *	SKB_GSO_TCPV4 | SKB_GSO_DODGY
 *
 * (what packet sockets and tun already produce from a virtio_net_hdr).
 * DODGY needs NETIF_F_GSO_ROBUST, which physical NIC drivers do not
 * advertise, so such devices send the skb through this callback first; here
 * we keep TCP's GSO features only when the device is known to hand the skb
 * on to a later egress that runs this callback again (loopback, veth) and
 * mask them otherwise, which makes TCP segment in software. Known gap: the
 * virtual devices with NETIF_F_GSO_ROBUST (virtio_net, macvlan, ipvlan, and
 * bonds or bridges inheriting it from a port) skip the callback. Those that
 * transmit through a lower device are harmless (it checks again); virtio_net
 * would pass a SAL TSO request to the hypervisor, so an engine must not hand
 * SAL super-packets to a virtio_net device (or must segment them itself).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <net/gro.h>
#include <net/protocol.h>

#include <svxlat/wire.h>

#include "svxlat_kmod.h"

/*
 * Segmentation kinds that contradict "TCP over IPv4 behind a SAL header".
 * Tunnel bits stay allowed: an outer tunnel's GSO reaches us for the inner
 * packet with them set.
 */
#define SVX_SAL_GSO_REFUSED \
	(SKB_GSO_TCPV6 | SKB_GSO_UDP | SKB_GSO_UDP_L4 | SKB_GSO_SCTP | \
	 SKB_GSO_FRAGLIST | SKB_GSO_FCOE)

/*
 * Devices that take a SAL super-packet as it is: they never put it on a
 * wire, and whatever egress comes next calls validate_xmit_skb() (and so
 * this file) again.
 */
static bool svx_dev_passes_sal_gso(const struct net_device *dev)
{
	if (!dev)
		return false;
	if (dev->flags & IFF_LOOPBACK)
		return true;
	return dev->rtnl_link_ops && !strcmp(dev->rtnl_link_ops->kind, "veth");
}

static struct sk_buff *svx_sal_gso_segment(struct sk_buff *skb,
					   netdev_features_t features)
{
	const struct net_offload *ops;
	unsigned int sal_len;
	const u8 *sal;

	if (unlikely(skb_shinfo(skb)->gso_type & SVX_SAL_GSO_REFUSED) ||
	    unlikely(!(skb_shinfo(skb)->gso_type & SKB_GSO_TCPV4)))
		return ERR_PTR(-EINVAL);

	if (!pskb_may_pull(skb, SVX_SAL_BASE_LEN))
		return ERR_PTR(-EINVAL);
	sal = skb->data;
	sal_len = sal[offsetof(struct svx_sal_base, shl)] * 4u;
	if (sal_len < SVX_SAL_BASE_LEN ||
	    sal[offsetof(struct svx_sal_base, protocol)] != SVX_IPPROTO_TCP)
		return ERR_PTR(-EINVAL);
	if (!pskb_may_pull(skb, sal_len + sizeof(struct tcphdr)))
		return ERR_PTR(-EINVAL);

	__skb_pull(skb, sal_len);
	skb_reset_transport_header(skb);

	/*
	 * A DODGY skb's csum_start came from user space: TCP would trust it
	 * (6.1 does not check it), so make sure it is this TCP header.
	 */
	if (skb->ip_summed == CHECKSUM_PARTIAL &&
	    (skb_checksum_start(skb) != skb_transport_header(skb) ||
	     skb->csum_offset != offsetof(struct tcphdr, check)))
		return ERR_PTR(-EINVAL);

	if (!svx_dev_passes_sal_gso(skb->dev)) {
		/* No TSO for protocol 144: TCP must segment here. */
		features &= ~NETIF_F_GSO_MASK;
		/*
		 * NETIF_F_IP_CSUM only promises TCP and UDP right after
		 * IPv4; keep CHECKSUM_PARTIAL only for devices with the
		 * generic csum_start/csum_offset offload.
		 */
		if (!(features & NETIF_F_HW_CSUM))
			features &= ~NETIF_F_CSUM_MASK;
	}

	ops = rcu_dereference(inet_offloads[IPPROTO_TCP]);
	if (unlikely(!ops || !ops->callbacks.gso_segment))
		return ERR_PTR(-EPROTONOSUPPORT);
	/* NULL (passed through), an error or the segments: all as TCP's. */
	return ops->callbacks.gso_segment(skb, features);
}

/*
 * GRO: merge consecutive segments of one SAL flow into a super-packet that
 * svx_sal_gso_segment() can split again at the next egress. Segments merge
 * only when their SAL headers are byte for byte the same (same flow IDs,
 * same extensions), which also keeps Serval's zero TCP ports from mixing
 * flows; everything TCP (sequence, flags, ACK, checksum) is decided by TCP's
 * own gro_receive on what follows the SAL header.
 */
static struct sk_buff *svx_sal_gro_receive(struct list_head *head,
					   struct sk_buff *skb)
{
	const struct net_offload *ops;
	struct sk_buff *pp = NULL;
	unsigned int off, sal_len;
	struct sk_buff *p;
	const u8 *sal;
	int flush = 1;

	off = skb_gro_offset(skb);
	sal = skb_gro_header(skb, off + SVX_SAL_BASE_LEN, off);
	if (unlikely(!sal))
		goto out;
	sal_len = sal[offsetof(struct svx_sal_base, shl)] * 4u;
	if (sal_len < SVX_SAL_BASE_LEN ||
	    sal[offsetof(struct svx_sal_base, protocol)] != SVX_IPPROTO_TCP)
		goto out;
	sal = skb_gro_header(skb, off + sal_len + sizeof(struct tcphdr), off);
	if (unlikely(!sal))
		goto out;

	ops = rcu_dereference(inet_offloads[IPPROTO_TCP]);
	if (unlikely(!ops || !ops->callbacks.gro_receive))
		goto out;

	list_for_each_entry(p, head, list) {
		if (!NAPI_GRO_CB(p)->same_flow)
			continue;
		/*
		 * A held packet of the same IPv4 flow went through here, so
		 * its SAL header is linear at off too; the base header holds
		 * shl, so the rest is only compared when the lengths agree.
		 */
		if (memcmp(sal, p->data + off, SVX_SAL_BASE_LEN) ||
		    memcmp(sal + SVX_SAL_BASE_LEN,
			   p->data + off + SVX_SAL_BASE_LEN,
			   sal_len - SVX_SAL_BASE_LEN))
			NAPI_GRO_CB(p)->same_flow = 0;
	}

	skb_gro_pull(skb, sal_len);
	skb_gro_postpull_rcsum(skb, sal, sal_len);
	skb_set_transport_header(skb, skb_gro_offset(skb));
	flush = 0;
	pp = call_gro_receive(ops->callbacks.gro_receive, head, skb);
out:
	skb_gro_flush_final(skb, pp, flush);
	return pp;
}

/* @nhoff: offset of the SAL header from skb->data. */
static int svx_sal_gro_complete(struct sk_buff *skb, int nhoff)
{
	const struct net_offload *ops;
	unsigned int sal_len;
	int err;

	sal_len = skb->data[nhoff + offsetof(struct svx_sal_base, shl)] * 4u;
	ops = rcu_dereference(inet_offloads[IPPROTO_TCP]);
	if (WARN_ON_ONCE(!ops || !ops->callbacks.gro_complete))
		return -ENOSYS;
	skb_set_transport_header(skb, nhoff + sal_len);
	err = ops->callbacks.gro_complete(skb, nhoff + sal_len);
	/* Same marking as any SAL super-packet: see the top of this file. */
	if (!err)
		skb_shinfo(skb)->gso_type |= SKB_GSO_DODGY;
	return err;
}

static bool gro;
module_param(gro, bool, 0444);
MODULE_PARM_DESC(gro, "merge received SAL/TCP segments (GRO); local raw "
		 "sockets of protocol 144 then see super-packets");

static const struct net_offload svx_sal_offload = {
	.callbacks = {
		.gso_segment = svx_sal_gso_segment,
	},
};

static const struct net_offload svx_sal_offload_gro = {
	.callbacks = {
		.gso_segment = svx_sal_gso_segment,
		.gro_receive = svx_sal_gro_receive,
		.gro_complete = svx_sal_gro_complete,
	},
};

static const struct net_offload *svx_sal_offload_used;

int svx_offload_init(void)
{
	const struct net_offload *ops;
	int err;

	ops = gro ? &svx_sal_offload_gro : &svx_sal_offload;
	err = inet_add_offload(ops, SVX_IPPROTO_SAL);
	if (err) {
		pr_err("svxlat: protocol %d offload already taken (%d)\n",
		       SVX_IPPROTO_SAL, err);
		return err;
	}
	svx_sal_offload_used = ops;
	return 0;
}

void svx_offload_exit(void)
{
	/* inet_del_offload() waits for RCU readers (synchronize_net). */
	if (svx_sal_offload_used)
		inet_del_offload(svx_sal_offload_used, SVX_IPPROTO_SAL);
	svx_sal_offload_used = NULL;
}
