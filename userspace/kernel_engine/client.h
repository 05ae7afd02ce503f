// SPDX-License-Identifier: GPL-2.0 OR MIT
// svxlatd's side of the generic netlink channel to svxlat.ko: one
// NETLINK_GENERIC socket (libmnl), the family resolved by name, one request
// at a time with its own sequence number, every reply checked (messages.h
// decodes them) and every refusal turned into a KernelError with the
// errno's text and the kernel's extended-ACK message.
//
// Not thread-safe: the daemon uses it from its main thread only.
//
// Include as "kernel_engine/client.h" (link svxlat_kernel_engine).
#ifndef SVXLAT_KERNEL_ENGINE_CLIENT_H
#define SVXLAT_KERNEL_ENGINE_CLIENT_H

#include "kernel_engine/messages.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

struct mnl_socket;

namespace svxlat::kernel_engine {

struct ClientOptions {
    // How long one recv() waits for the module before the request fails.
    std::chrono::milliseconds reply_timeout{10000};
    // Socket receive buffer (SO_RCVBUFFORCE when permitted, else SO_RCVBUF).
    int receive_buffer_bytes = 4 << 20;
};

class KernelClient {
public:
    // Opens the socket and resolves the family. Throws KernelError:
    // family_missing when svxlat.ko is not loaded, incompatible when its
    // family has another version or header size, io when the socket fails.
    explicit KernelClient(ClientOptions options = {});
    ~KernelClient();
    KernelClient(KernelClient&&) noexcept;
    KernelClient& operator=(KernelClient&&) noexcept;
    KernelClient(const KernelClient&) = delete;
    KernelClient& operator=(const KernelClient&) = delete;

    // True when the family exists (the module is loaded). Never throws.
    static bool available();

    // GET_INFO (not checked against this build: see incompatibility()).
    KernelInfo info();
    // SET_CONFIG: replaces the namespace's whole configuration, or changes
    // nothing when the module refuses it. Throws KernelError: invalid_config
    // before sending anything, refused with the module's reason.
    void apply(const KernelConfig& config);
    // CLEAR_CONFIG: the namespace is unconfigured, its flows reset.
    void clear();
    KernelStats stats();
    // Every flow of the namespace (GET_FLOWS dump).
    std::vector<svx_flow> flows();
    // SET_ROUTES: replaces the service router's whole table (entries in
    // svx_route_table order), or changes nothing when the module refuses
    // it. Throws KernelError: invalid_config before sending anything
    // (validate_routes), refused with the module's reason.
    void set_routes(std::span<const svx_route_entry> entries,
                    std::span<const svx_route_target> targets, std::uint64_t generation);
    // A route table (enum svx_nl_routes: the router's, or the translator's
    // static services) with the module's per-target counts (GET_ROUTES
    // dump; a route split over several messages comes back whole).
    std::vector<KernelRoute> routes(std::uint8_t table = SVX_NL_ROUTES_ROUTER);

    [[nodiscard]] std::uint16_t family_id() const noexcept { return family_id_; }

private:
    struct SocketCloser {
        void operator()(mnl_socket* socket) const noexcept;
    };

    // Sends request (whose sequence number is seq) and reads until the reply
    // is complete, handing each message of the family to on_message.
    void exchange(std::span<const std::uint8_t> request, const ReplyContext& context,
                  const std::function<void(std::span<const std::uint8_t>)>& on_message);
    // One module request that must be answered by exactly one message.
    std::vector<std::uint8_t> single_reply(std::uint8_t cmd);
    void ensure_send_buffer(std::size_t message_bytes);
    std::uint32_t next_seq() { return ++seq_; }

    ClientOptions options_;
    std::unique_ptr<mnl_socket, SocketCloser> socket_;
    std::uint32_t portid_ = 0;
    std::uint32_t seq_ = 0;
    std::uint16_t family_id_ = 0;
    std::vector<std::uint8_t> receive_buffer_;
};

} // namespace svxlat::kernel_engine

#endif // SVXLAT_KERNEL_ENGINE_CLIENT_H
