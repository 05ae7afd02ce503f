// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel engine's flow table: three rhashtables (TCP 4-tuple, local SAL
 * flow ID, host agent's peer key; rhashtable seeds its hash randomly) for
 * RCU lookups, and one time-ordered list per timeout class plus a list of
 * flows with a pending SAL control packet, walked by the timer work, never
 * scanned in packet context. Same limits and semantics as the user-space
 * table (userspace/engine/flow_table.h).
 *
 * Locking: a flow's lock is held while the state machine runs on it (taken
 * in find_*()/admit(), released in done()/remove()); sn->lock protects the
 * lists, counts and the port bitmap and nests inside a flow's lock. Code that
 * holds sn->lock only ever trylocks a flow. Every user runs with BH disabled.
 */
#include <linux/bitmap.h>
#include <linux/jhash.h>
#include <linux/jiffies.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "svxlat_kmod.h"

/* Re-queue a busy flow at most this often: expiry is approximate by as much. */
#define SVX_REQUEUE_MS 100

static struct kmem_cache *svx_flow_cache;

/*
 * Keys hashed and compared as whole 32-bit words: the generic compare is an
 * out-of-line byte-wise memcmp, paid on every lookup of every packet.
 */
static inline u32 svx_word(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline u32 svx_tcp_ports(const struct svx_tcp_key *k)
{
	return (u32)k->remote_port << 16 | k->self_port;
}

static u32 svx_tcp_hash(const void *data, u32 len, u32 seed)
{
	const struct svx_tcp_key *k = data;

	return jhash_3words(svx_word(k->remote_addr), svx_word(k->self_addr), svx_tcp_ports(k),
			    seed);
}

static int svx_tcp_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct svx_tcp_key *k = arg->key, *o = &((const struct svx_kflow *)obj)->tcp_key;

	return svx_word(k->remote_addr) != svx_word(o->remote_addr) ||
	       svx_word(k->self_addr) != svx_word(o->self_addr) ||
	       svx_tcp_ports(k) != svx_tcp_ports(o);
}

static u32 svx_local_hash(const void *data, u32 len, u32 seed)
{
	return jhash_1word(*(const u32 *)data, seed);
}

static int svx_local_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	return *(const u32 *)arg->key != ((const struct svx_kflow *)obj)->local_key;
}

static u32 svx_peer_hash(const void *data, u32 len, u32 seed)
{
	const struct svx_peer_key *k = data;

	return jhash_2words(svx_word(k->addr), k->flow, seed);
}

static int svx_peer_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct svx_peer_key *k = arg->key, *o = &((const struct svx_kflow *)obj)->peer_key;

	return svx_word(k->addr) != svx_word(o->addr) || k->flow != o->flow;
}

static const struct rhashtable_params svx_tcp_params = {
	.key_len = sizeof(struct svx_tcp_key),
	.key_offset = offsetof(struct svx_kflow, tcp_key),
	.head_offset = offsetof(struct svx_kflow, tcp_node),
	.hashfn = svx_tcp_hash,
	.obj_cmpfn = svx_tcp_cmp,
	.automatic_shrinking = true,
};

static const struct rhashtable_params svx_local_params = {
	.key_len = sizeof(u32),
	.key_offset = offsetof(struct svx_kflow, local_key),
	.head_offset = offsetof(struct svx_kflow, local_node),
	.hashfn = svx_local_hash,
	.obj_cmpfn = svx_local_cmp,
	.automatic_shrinking = true,
};

static const struct rhashtable_params svx_peer_params = {
	.key_len = sizeof(struct svx_peer_key),
	.key_offset = offsetof(struct svx_kflow, peer_key),
	.head_offset = offsetof(struct svx_kflow, peer_node),
	.hashfn = svx_peer_hash,
	.obj_cmpfn = svx_peer_cmp,
	.automatic_shrinking = true,
};

static inline struct svx_kflow *svx_kflow_of(struct svx_flow *f)
{
	return container_of(f, struct svx_kflow, flow);
}

int svx_flows_cache_init(void)
{
	svx_flow_cache = KMEM_CACHE(svx_kflow, 0);
	return svx_flow_cache ? 0 : -ENOMEM;
}

void svx_flows_cache_exit(void)
{
	rcu_barrier();	/* every svx_kflow_free_rcu() has run */
	kmem_cache_destroy(svx_flow_cache);
}

int svx_flows_init(struct svx_net *sn)
{
	int i, err;

	spin_lock_init(&sn->lock);
	for (i = 0; i < SVX_TO__COUNT; i++)
		INIT_LIST_HEAD(&sn->classes[i]);
	INIT_LIST_HEAD(&sn->timers);
	sn->ports_used = bitmap_zalloc(65536, GFP_KERNEL);
	if (!sn->ports_used)
		return -ENOMEM;
	err = rhashtable_init(&sn->by_tcp, &svx_tcp_params);
	if (err)
		goto free_ports;
	err = rhashtable_init(&sn->by_local, &svx_local_params);
	if (err)
		goto free_tcp;
	err = rhashtable_init(&sn->by_peer, &svx_peer_params);
	if (err)
		goto free_local;
	sn->tables_ready = true;
	return 0;
free_local:
	rhashtable_destroy(&sn->by_local);
free_tcp:
	rhashtable_destroy(&sn->by_tcp);
free_ports:
	bitmap_free(sn->ports_used);
	return err;
}

/* Namespace exit or module unload: hooks and work are gone, no user left. */
void svx_flows_destroy(struct svx_net *sn)
{
	struct svx_kflow *kf, *tmp;
	int i;

	if (!sn->tables_ready)
		return;
	rhashtable_destroy(&sn->by_peer);
	rhashtable_destroy(&sn->by_local);
	rhashtable_destroy(&sn->by_tcp);
	for (i = 0; i < SVX_TO__COUNT; i++)
		list_for_each_entry_safe(kf, tmp, &sn->classes[i], age) {
			list_del(&kf->age);
			kmem_cache_free(svx_flow_cache, kf);
		}
	bitmap_free(sn->ports_used);
	sn->tables_ready = false;
}

static struct svx_flow *svx_lock_found(struct svx_kflow *kf)
{
	if (!kf)
		return NULL;
	spin_lock(&kf->lock);
	if (kf->dead) {
		spin_unlock(&kf->lock);
		return NULL;
	}
	return &kf->flow;
}

struct svx_flow *svx_flows_find_tcp(struct svx_net *sn, const struct svx_tcp_key *key)
{
	return svx_lock_found(rhashtable_lookup(&sn->by_tcp, key, svx_tcp_params));
}

struct svx_flow *svx_flows_find_local(struct svx_net *sn, u32 local_flow)
{
	return svx_lock_found(rhashtable_lookup(&sn->by_local, &local_flow, svx_local_params));
}

struct svx_flow *svx_flows_find_peer(struct svx_net *sn, const struct svx_peer_key *key)
{
	return svx_lock_found(rhashtable_lookup(&sn->by_peer, key, svx_peer_params));
}

/* Takes kf off every table and list. sn->lock and kf->lock held. */
static void svx_unlink_locked(struct svx_net *sn, struct svx_kflow *kf)
{
	rhashtable_remove_fast(&sn->by_tcp, &kf->tcp_node, svx_tcp_params);
	rhashtable_remove_fast(&sn->by_local, &kf->local_node, svx_local_params);
	if (kf->has_peer)
		rhashtable_remove_fast(&sn->by_peer, &kf->peer_node, svx_peer_params);
	if (kf->cls >= 0) {
		list_del(&kf->age);
		sn->class_count[kf->cls]--;
		kf->cls = -1;
	}
	if (kf->on_timer) {
		list_del(&kf->timer);
		kf->on_timer = false;
	}
	if (kf->flow.role == SVX_ROLE_HOST)
		clear_bit(kf->flow.tcp_self_port, sn->ports_used);
	sn->count--;
	kf->dead = true;
}

/* Moves kf to the tail of its class and fixes its timer membership. */
static void svx_requeue_locked(struct svx_net *sn, struct svx_kflow *kf)
{
	s8 cls = (s8)svx_flow_timeout_class((enum svx_flow_state)kf->flow.state);

	if (kf->cls >= 0) {
		list_del(&kf->age);
		sn->class_count[kf->cls]--;
	}
	list_add_tail(&kf->age, &sn->classes[cls]);
	sn->class_count[cls]++;
	kf->cls = cls;
	if (kf->flow.ctl_pending && !kf->on_timer) {
		list_add_tail(&kf->timer, &sn->timers);
		kf->on_timer = true;
	} else if (!kf->flow.ctl_pending && kf->on_timer) {
		list_del(&kf->timer);
		kf->on_timer = false;
	}
}

static void svx_kflow_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(svx_flow_cache, container_of(head, struct svx_kflow, rcu));
}

/*
 * Frees a flow whose lock the caller holds, after RCU readers are done with
 * it (module exit waits for these callbacks with rcu_barrier()).
 */
static void svx_release_dead(struct svx_kflow *kf)
{
	spin_unlock(&kf->lock);
	call_rcu(&kf->rcu, svx_kflow_free_rcu);
}

struct svx_flow *svx_flows_admit(struct svx_net *sn, const struct svx_kcfg *cfg,
				 struct svx_emit *out)
{
	struct svx_kflow *kf, *victim = NULL;

	spin_lock(&sn->lock);
	/*
	 * A SYN flood of spoofed sources churns half-open flows only: evict
	 * the oldest one. Established flows are never evicted; a full table
	 * refuses the new flow instead.
	 */
	if (sn->class_count[SVX_TO_EMBRYONIC] >= cfg->max_embryonic &&
	    !list_empty(&sn->classes[SVX_TO_EMBRYONIC])) {
		victim = list_first_entry(&sn->classes[SVX_TO_EMBRYONIC], struct svx_kflow, age);
		if (spin_trylock(&victim->lock))
			svx_unlink_locked(sn, victim);
		else
			victim = NULL;
	}
	if (sn->count >= cfg->max_flows) {
		spin_unlock(&sn->lock);
		kf = NULL;
		goto evicted;
	}
	sn->count++;	/* reserved until insert() or released on failure */
	spin_unlock(&sn->lock);

	/*
	 * Not zeroed: the engine initialises the flow itself (svx_flow_init_*)
	 * and insert() sets the keys, hash nodes and list links; only the
	 * bookkeeping read before that is set here. Zeroing all ~400 bytes
	 * was a measurable part of a connection's cost.
	 */
	kf = kmem_cache_alloc(svx_flow_cache, GFP_ATOMIC);
	if (!kf) {
		spin_lock(&sn->lock);
		sn->count--;
		spin_unlock(&sn->lock);
		goto evicted;
	}
	spin_lock_init(&kf->lock);
	spin_lock(&kf->lock);
	kf->dead = false;
	kf->has_peer = false;
	kf->cls = -1;
	kf->on_timer = false;
evicted:
	if (victim) {
		svx_flow_abort(&victim->flow, &cfg->roles.flow, out);
		svx_release_dead(victim);
		svx_count(sn, SVX_ST_EMBRYONIC_EVICTED, 1);
	}
	return kf ? &kf->flow : NULL;
}

bool svx_flows_insert(struct svx_net *sn, struct svx_flow *f, const u8 *peer_addr,
		      u32 peer_flow)
{
	struct svx_kflow *kf = svx_kflow_of(f);
	bool tcp_in = false, local_in = false;
	int err, tries = 0;

	memcpy(kf->tcp_key.remote_addr, f->tcp_remote_addr, 4);
	memcpy(kf->tcp_key.self_addr, f->tcp_self_addr, 4);
	kf->tcp_key.remote_port = f->tcp_remote_port;
	kf->tcp_key.self_port = f->tcp_self_port;
	kf->local_key = f->local_flow;
	if (peer_addr) {
		memcpy(kf->peer_key.addr, peer_addr, 4);
		kf->peer_key.flow = peer_flow;
		kf->has_peer = true;
	}

	spin_lock(&sn->lock);
	if (f->role == SVX_ROLE_HOST && test_bit(f->tcp_self_port, sn->ports_used))
		goto fail;
	if (rhashtable_lookup_insert_fast(&sn->by_tcp, &kf->tcp_node, svx_tcp_params))
		goto fail;
	tcp_in = true;
	/* svx_flows_new_local() did not check its ID: a taken one (about
	 * count in 2^32) is replaced here, before any packet carries it.
	 */
	while ((err = rhashtable_lookup_insert_fast(&sn->by_local, &kf->local_node,
						     svx_local_params)) == -EEXIST &&
	       ++tries < 8) {
		kf->local_key = svx_flows_new_local(sn);
		f->local_flow = kf->local_key;
	}
	if (err)
		goto fail;
	local_in = true;
	if (kf->has_peer &&
	    rhashtable_lookup_insert_fast(&sn->by_peer, &kf->peer_node, svx_peer_params))
		goto fail;
	if (f->role == SVX_ROLE_HOST)
		set_bit(f->tcp_self_port, sn->ports_used);
	kf->queued_ms = f->last_ms;
	svx_requeue_locked(sn, kf);
	spin_unlock(&sn->lock);
	return true;
fail:
	if (local_in)
		rhashtable_remove_fast(&sn->by_local, &kf->local_node, svx_local_params);
	if (tcp_in)
		rhashtable_remove_fast(&sn->by_tcp, &kf->tcp_node, svx_tcp_params);
	sn->count--;
	kf->dead = true;
	spin_unlock(&sn->lock);
	svx_release_dead(kf);
	return false;
}

void svx_flows_remove(struct svx_net *sn, struct svx_flow *f)
{
	struct svx_kflow *kf = svx_kflow_of(f);

	spin_lock(&sn->lock);
	svx_unlink_locked(sn, kf);
	spin_unlock(&sn->lock);
	svx_release_dead(kf);
}

void svx_flows_done(struct svx_net *sn, struct svx_flow *f)
{
	struct svx_kflow *kf = svx_kflow_of(f);
	s8 cls = (s8)svx_flow_timeout_class((enum svx_flow_state)f->state);

	/* Most packets change nothing the lists care about: skip sn->lock. */
	if (cls != kf->cls || !!f->ctl_pending != kf->on_timer ||
	    f->last_ms - kf->queued_ms >= SVX_REQUEUE_MS) {
		spin_lock(&sn->lock);
		if (!kf->dead) {
			svx_requeue_locked(sn, kf);
			kf->queued_ms = f->last_ms;
		}
		spin_unlock(&sn->lock);
	}
	spin_unlock(&kf->lock);
}

/* A random non-zero local flow ID; svx_flows_insert() makes it unique. */
u32 svx_flows_new_local(struct svx_net *sn)
{
	u32 id;

	do {
		id = get_random_u32();
	} while (!id);
	return id;
}

bool svx_flows_new_port(struct svx_net *sn, const struct svx_kcfg *cfg, u16 *port)
{
	u32 slots = (u32)cfg->port_high - cfg->port_low + 1, start, i;
	bool found = false;

	start = get_random_u32() % slots;
	spin_lock(&sn->lock);
	for (i = 0; i < slots; i++) {
		u32 p = cfg->port_low + (start + i) % slots;

		if (!test_bit(p, sn->ports_used)) {
			*port = (u16)p;
			found = true;
			break;
		}
	}
	spin_unlock(&sn->lock);
	return found;
}

/* Room for what one flow may emit in a tick or an abort. */
static bool svx_out_roomy(const struct svx_emit *out)
{
	return out->n_pkts + 4 <= out->max_pkts && out->arena_cap - out->used >= 4096;
}

bool svx_flows_tick(struct svx_net *sn, const struct svx_kcfg *cfg, u64 now_ms,
		    struct svx_emit *out)
{
	struct svx_kflow *kf, *tmp;
	u32 expired = 0;
	int cls;

	spin_lock(&sn->lock);
	list_for_each_entry_safe(kf, tmp, &sn->timers, timer) {
		s8 before;

		if (!svx_out_roomy(out))
			goto full;
		if (!spin_trylock(&kf->lock))
			continue;	/* busy: its packet path is running */
		before = (s8)svx_flow_timeout_class((enum svx_flow_state)kf->flow.state);
		if (svx_flow_tick(&kf->flow, &cfg->roles.flow, now_ms, out))
			svx_count(sn, SVX_ST_FLOWS_CLOSED, 1);
		/* A retransmission is no traffic: the flow keeps its place in
		 * the time-ordered list unless its class changed.
		 */
		if (!kf->flow.ctl_pending ||
		    svx_flow_timeout_class((enum svx_flow_state)kf->flow.state) != before)
			svx_requeue_locked(sn, kf);
		spin_unlock(&kf->lock);
	}
	for (cls = 0; cls < SVX_TO__COUNT; cls++) {
		while (!list_empty(&sn->classes[cls])) {
			kf = list_first_entry(&sn->classes[cls], struct svx_kflow, age);
			if (kf->flow.last_ms + cfg->timeout_ms[cls] > now_ms)
				break;
			if (!svx_out_roomy(out))
				goto full;
			if (!spin_trylock(&kf->lock))
				break;	/* in use right now: not idle */
			svx_unlink_locked(sn, kf);
			svx_flow_abort(&kf->flow, &cfg->roles.flow, out);
			svx_release_dead(kf);
			expired++;
		}
	}
	spin_unlock(&sn->lock);
	svx_count(sn, SVX_ST_FLOWS_EXPIRED, expired);
	return false;
full:
	spin_unlock(&sn->lock);
	svx_count(sn, SVX_ST_FLOWS_EXPIRED, expired);
	return true;
}

bool svx_flows_abort_some(struct svx_net *sn, const struct svx_kcfg *cfg, struct svx_emit *out)
{
	struct svx_kflow *kf;
	int cls;

	spin_lock(&sn->lock);
	for (cls = 0; cls < SVX_TO__COUNT; cls++) {
		while (!list_empty(&sn->classes[cls])) {
			if (!svx_out_roomy(out))
				goto more;
			kf = list_first_entry(&sn->classes[cls], struct svx_kflow, age);
			if (!spin_trylock(&kf->lock))
				goto more;	/* the caller retries after a pause */
			svx_unlink_locked(sn, kf);
			if (cfg)
				svx_flow_abort(&kf->flow, &cfg->roles.flow, out);
			svx_release_dead(kf);
		}
	}
	spin_unlock(&sn->lock);
	return false;
more:
	spin_unlock(&sn->lock);
	return true;
}

u32 svx_flows_count(struct svx_net *sn)
{
	return READ_ONCE(sn->count);
}

u32 svx_flows_snapshot(struct svx_net *sn, u32 skip, struct svx_flow *dst, u32 max)
{
	struct svx_kflow *kf;
	u32 seen = 0, n = 0;
	int cls;

	spin_lock_bh(&sn->lock);
	for (cls = 0; cls < SVX_TO__COUNT && n < max; cls++)
		list_for_each_entry(kf, &sn->classes[cls], age) {
			if (seen++ < skip)
				continue;
			/* A display snapshot: a flow mid-update may be copied
			 * half old, half new, but never freed under us.
			 */
			memcpy(&dst[n], &kf->flow, sizeof(kf->flow));
			if (++n == max)
				break;
		}
	spin_unlock_bh(&sn->lock);
	return n;
}
