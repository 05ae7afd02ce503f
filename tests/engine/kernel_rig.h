// The packet fixtures against the kernel engine: svxlat.ko in a fresh
// network namespace of its own, configured over generic netlink like
// svxlatd does, fed through a TUN device (with a virtio-net header, so that
// a fixture can hand over a packet whose checksum is partial), and every
// packet the module emits read back from the same device: the namespace
// routes everything to the TUN and owns none of the fixtures' addresses, so
// translations, replies and packets for "local" servers all come back.
//
// Selected by SVXLAT_RIG=kernel (tests/kmod/t-fixtures.sh runs the worker
// fixtures so inside the test VM). Not available on a kernel without the
// module: the constructor throws.
#pragma once

#include <svxlat/flow.h>

#include "kernel_engine/client.h"
#include "packet_builder.h"

#include <memory>
#include <vector>

namespace svxlat::test {

class KernelRig {
public:
    explicit KernelRig(const kernel_engine::KernelConfig& config);
    ~KernelRig();
    KernelRig(const KernelRig&) = delete;
    KernelRig& operator=(const KernelRig&) = delete;

    // Injects pkt; returns true when the module let it pass (not ours).
    // The packets it emitted in answer are in outputs.
    bool process(const Bytes& pkt, bool partial, std::vector<Bytes>& outputs);
    // CLEAR_CONFIG: every flow is reset; the resets are in outputs.
    void abort_all(std::vector<Bytes>& outputs);
    kernel_engine::KernelStats stats() { return client_->stats(); }
    kernel_engine::KernelClient& client() { return *client_; }
    std::vector<svx_flow> flows() { return client_->flows(); }

private:
    void drain(std::vector<Bytes>& outputs);
    int tun_fd_ = -1;
    std::unique_ptr<kernel_engine::KernelClient> client_;
};

} // namespace svxlat::test
